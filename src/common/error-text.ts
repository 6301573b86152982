import { DriverException } from '@mikro-orm/core';

/**
 * What may be logged or stored of an error. knex puts the failed statement, with its parameter values, in front of
 * a database error's message (`insert into "users" ... values (..., '$argon2id$...') - <PostgreSQL's message>`), so
 * for those only the SQLSTATE and PostgreSQL's own message are kept: no statement, no values, no stack.
 */
export function describeError(error: unknown): string {
  if (error instanceof DriverException) {
    const separator = error.message.lastIndexOf(' - ');
    const message = separator === -1 ? error.message : error.message.slice(separator + 3);
    return `database error${error.code ? ` ${error.code}` : ''}: ${message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
