import type { Client } from 'pg';

/** Advisory lock keys, taken on the maintenance database so every process of a deployment agrees on them. */
export const lockKey = (what: string): string => `farm-management:${what}`;

/**
 * Session-level advisory lock, released when the client disconnects. With `waitMs` above 0 the wait is bounded:
 * past it PostgreSQL's lock_timeout cancels it and this throws an error naming the lock. The setting is scoped by a
 * transaction (SET LOCAL) the session-level lock outlives; the client must not be in a transaction already.
 */
export async function advisoryLock(
  client: Client,
  key: string,
  mode: 'exclusive' | 'shared' = 'exclusive',
  waitMs = 0,
): Promise<void> {
  const lock = `SELECT ${mode === 'shared' ? 'pg_advisory_lock_shared' : 'pg_advisory_lock'}(hashtext($1))`;
  if (waitMs <= 0) {
    await client.query(lock, [key]);
    return;
  }
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = ${Math.trunc(waitMs)}`);
    await client.query(lock, [key]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new LockWaitTimeoutError(key, waitMs);
    throw error;
  }
}

/** Releases a session-level lock `advisoryLock` took in this mode (the client lives on). */
export async function advisoryUnlock(
  client: Client,
  key: string,
  mode: 'exclusive' | 'shared' = 'exclusive',
): Promise<void> {
  const unlock = mode === 'shared' ? 'pg_advisory_unlock_shared' : 'pg_advisory_unlock';
  await client.query(`SELECT ${unlock}(hashtext($1))`, [key]);
}

/** PostgreSQL's lock_not_available, raised when lock_timeout ends a wait. */
const LOCK_NOT_AVAILABLE = '55P03';

/** A bounded wait for an advisory lock (`advisoryLock`'s `waitMs`) ended: another session holds it. */
export class LockWaitTimeoutError extends Error {
  constructor(key: string, waitMs: number) {
    super(`Waited ${Math.trunc(waitMs)} ms for the lock ${key}, which another session holds`);
    this.name = LockWaitTimeoutError.name;
  }
}

/** Takes the exclusive session-level lock if nobody holds it; false otherwise. */
export async function tryAdvisoryLock(client: Client, key: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
    [key],
  );
  return rows[0].locked;
}

/**
 * Runs `work` holding the exclusive session-level lock (waiting for it as `advisoryLock` does), released afterwards
 * (the client lives on). When `work` fails, its error is the one thrown, even if the release fails too (the lock
 * ends with the client then).
 */
export async function withAdvisoryLock<T>(
  client: Client,
  key: string,
  work: () => Promise<T>,
  waitMs = 0,
): Promise<T> {
  const unlock = () => advisoryUnlock(client, key);
  await advisoryLock(client, key, 'exclusive', waitMs);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await unlock().catch(() => undefined);
    throw error;
  }
  await unlock();
  return result;
}
