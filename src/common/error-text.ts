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

interface ErrorFields {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
}

/**
 * `error` and the errors it wraps (`cause`), five at most. Any object counts: under jest, errors made by Node's own
 * modules (a refused socket) are not `instanceof Error`.
 */
function* errorChain(error: unknown): Generator<ErrorFields> {
  let current = error;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 5; depth++) {
    yield current;
    current = (current as ErrorFields).cause;
  }
}

/** The database error behind `error`: itself, or one of its causes (a failed migration wraps one). */
function databaseErrorIn(error: unknown): (Error & { code?: unknown }) | undefined {
  for (const current of errorChain(error)) {
    if (!(current instanceof Error)) return undefined;
    const { code } = current as ErrorFields;
    if (current instanceof DriverException || (typeof code === 'string' && SQLSTATE.test(code)))
      return current;
  }
  return undefined;
}

/**
 * SQLSTATEs and Node error codes of a database server that cannot be reached or takes no more sessions: connection
 * exceptions (08xxx), too many connections, a server shutting down or starting up, a session it ended for idling
 * (57P05, `idle_session_timeout`: a maintenance session holding a lock while a migration runs elsewhere), a socket
 * that cannot connect or was cut. Not the rest of class 53 (disk full, out of memory, a temp file limit): a statement
 * or a tenant's migration can cause those itself.
 */
const SERVER_UNAVAILABLE =
  /^(08...|53300|57P0[1-3]|57P05|ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ENOENT|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/;

/**
 * node-postgres's words for a connection the server closed under a query or at its start, and for one not made
 * within its `connectionTimeoutMillis`.
 */
const PG_CONNECTION_LOST = /^(Connection (terminated|ended) unexpectedly|timeout expired$)/;

/**
 * Whether `error`, or an error it wraps, says the database server cannot be reached or takes no more sessions
 * (SERVER_UNAVAILABLE, PG_CONNECTION_LOST, knex's timeout waiting for a connection): every tenant would meet it
 * alike.
 */
export function isServerUnavailable(error: unknown): boolean {
  for (const { code, name, message } of errorChain(error)) {
    if (name === 'KnexTimeoutError') return true;
    if (typeof code === 'string' && SERVER_UNAVAILABLE.test(code)) return true;
    if (typeof message === 'string' && PG_CONNECTION_LOST.test(postgresMessage(message))) return true;
  }
  return false;
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
