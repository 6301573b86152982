import { DriverException } from '@mikro-orm/core';

/** A PostgreSQL SQLSTATE, as node-postgres sets it in `code`. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * PostgreSQL's own message of a database error: knex puts the failed statement, with its parameter values, in
 * front of it (`insert into "users" ... values (..., '$argon2id$...') - <PostgreSQL's message>`).
 */
export function postgresMessage(message: string): string {
  const separator = message.lastIndexOf(' - ');
  return separator === -1 ? message : message.slice(separator + 3);
}

/** The database error behind `error`: itself, or one of its causes (a failed migration wraps one). */
function databaseErrorIn(error: unknown): (Error & { code?: unknown }) | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const { code } = current as { code?: unknown };
    if (current instanceof DriverException || (typeof code === 'string' && SQLSTATE.test(code)))
      return current;
    current = current.cause;
  }
  return undefined;
}

/**
 * What may be logged or stored of an error: for a database error, or an error caused by one, what failed, the
 * SQLSTATE and PostgreSQL's message only: no statement, no values, no stack.
 */
export function describeError(error: unknown): string {
  const database = databaseErrorIn(error);
  if (!database) return error instanceof Error ? error.message : String(error);
  const { code } = database;
  const described = `database error${typeof code === 'string' ? ` ${code}` : ''}: ${postgresMessage(database.message)}`;
  if (database === error) return described;
  // A wrapper (`Migration X (up) failed: Original error: ...`) says what failed before quoting the cause.
  const message = (error as Error).message;
  const colon = message.indexOf(': ');
  return colon === -1 ? described : `${message.slice(0, colon)}: ${described}`;
}
