import { InvalidInputError } from './domain-errors';

/** The properties of a PATCH body that were sent; absent ones stay untouched. */
export function definedOnly<T extends object>(dto: T): Partial<T> {
  return Object.fromEntries(Object.entries(dto).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Escapes LIKE wildcards so user text matches literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * A `$gte`/`$lte` filter for an inclusive range of calendar dates (`YYYY-MM-DD` strings compare as dates), or
 * undefined when neither end is given. A reversed range is a 400 naming both parameters.
 */
export function dateRange(
  from: string | undefined,
  to: string | undefined,
  names: [string, string],
): { $gte?: string; $lte?: string } | undefined {
  if (from && to && from > to) {
    throw new InvalidInputError('INVALID_RANGE', `${names[0]} must not be after ${names[1]}`);
  }
  if (!from && !to) return undefined;
  return { ...(from ? { $gte: from } : {}), ...(to ? { $lte: to } : {}) };
}

/** Newest first, with the id as tie-breaker so pages never overlap. */
export const NEWEST_FIRST = { createdAt: 'desc', id: 'desc' } as const;

/** Today's date in UTC, `YYYY-MM-DD`. */
export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}
