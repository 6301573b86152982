import { ArgumentsHost, BadRequestException, Logger } from '@nestjs/common';
import {
  DriverException,
  ForeignKeyConstraintViolationException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { AllExceptionsFilter } from './all-exceptions.filter';
import { ConflictError, InvalidInputError, NotFoundError, UnavailableError } from './domain-errors';

function respond(exception: unknown): { status: number; body: unknown } {
  const captured = { status: 0, body: undefined as unknown };
  const response = {
    headersSent: false,
    status(code: number) {
      captured.status = code;
      return this;
    },
    json(body: unknown) {
      captured.body = body;
    },
  };
  const host = {
    switchToHttp: () => ({
      getRequest: () => ({ method: 'GET', originalUrl: '/x', headers: {} }),
      getResponse: () => response,
    }),
  } as unknown as ArgumentsHost;
  new AllExceptionsFilter().catch(exception, host);
  return captured;
}

describe('AllExceptionsFilter', () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined));

  it.each([
    [new NotFoundError('CROP_NOT_FOUND', 'Crop x not found'), 404, 'Not Found', 'CROP_NOT_FOUND'],
    [new ConflictError('NAME_TAKEN', 'taken'), 409, 'Conflict', 'NAME_TAKEN'],
    [new InvalidInputError('BAD', 'bad'), 400, 'Bad Request', 'BAD'],
    [new UnavailableError('LATER', 'later'), 503, 'Service Unavailable', 'LATER'],
  ])('maps %p to %i', (error, status, name, code) => {
    expect(respond(error)).toEqual({
      status,
      body: { statusCode: status, error: name, message: (error as Error).message, code },
    });
  });

  it('keeps the message and code of an HttpException, joining message lists', () => {
    expect(
      respond(new BadRequestException({ message: ['a is wrong', 'b is wrong'], code: 'VALIDATION_FAILED' })),
    ).toEqual({
      status: 400,
      body: {
        statusCode: 400,
        error: 'Bad Request',
        message: 'a is wrong; b is wrong',
        code: 'VALIDATION_FAILED',
      },
    });
  });

  it('maps unique and foreign-key violations to 409 without the SQL', () => {
    const sqlError = Object.assign(new Error('insert into "crops" ... duplicate key'), { code: '23505' });
    const unique = respond(new UniqueConstraintViolationException(sqlError));
    expect(unique.status).toBe(409);
    expect(JSON.stringify(unique.body)).not.toMatch(/insert|duplicate key/);
    expect(respond(new ForeignKeyConstraintViolationException(sqlError)).status).toBe(409);
  });

  it('answers 503 when the database is unreachable or out of connections', () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const tooMany = Object.assign(new Error('sorry, too many clients already'), { code: '53300' });
    const timeout = Object.assign(new Error('Timeout acquiring a connection'), { name: 'KnexTimeoutError' });
    for (const error of [new DriverException(refused), new DriverException(tooMany), timeout]) {
      expect(respond(error)).toEqual({
        status: 503,
        body: {
          statusCode: 503,
          error: 'Service Unavailable',
          message: 'The database is temporarily unavailable; retry shortly',
          code: 'DATABASE_UNAVAILABLE',
        },
      });
    }
  });

  it('answers 503 QUERY_TIMEOUT for a canceled statement, logging it without its statement', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const canceled = Object.assign(
      new Error(
        `select "c".* from "crops" as "c" where "c"."name" = 'secret' - canceling statement due to statement timeout`,
      ),
      { code: '57014' },
    );
    expect(respond(new DriverException(canceled))).toEqual({
      status: 503,
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        message:
          "The database canceled the request's statement (it ran too long, or an operator stopped it); retry shortly",
        code: 'QUERY_TIMEOUT',
      },
    });
    const logged = JSON.stringify(warn.mock.calls.at(-1));
    expect(logged).toContain('database error 57014: canceling statement due to statement timeout');
    expect(logged).not.toMatch(/secret|select/);
  });

  it('answers anything else with a bare 500 and no internals', () => {
    expect(respond(new TypeError('cannot read x of undefined at /src/secret.ts:1'))).toEqual({
      status: 500,
      body: {
        statusCode: 500,
        error: 'Internal Server Error',
        message: 'Internal server error',
        code: 'INTERNAL_ERROR',
      },
    });
  });

  it('answers 503 for a dropped tenant database and for connections closed under a query', () => {
    const missing = Object.assign(new Error('select 1 - database "tenant_x" does not exist'), {
      code: '3D000',
    });
    expect(respond(new DriverException(missing))).toMatchObject({
      status: 503,
      body: { code: 'TENANT_UNAVAILABLE' },
    });
    const closed = new Error('select "c".* from "crops" as "c" - Connection terminated unexpectedly');
    expect(respond(new DriverException(closed))).toMatchObject({
      status: 503,
      body: { code: 'DATABASE_UNAVAILABLE' },
    });
  });

  it('answers 503 TRANSACTION_CONFLICT to a deadlock or serialization failure', () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    for (const code of ['40P01', '40001']) {
      const failed = Object.assign(new Error('could not serialize access'), { code });
      expect(respond(new DriverException(failed))).toMatchObject({
        status: 503,
        body: { code: 'TRANSACTION_CONFLICT' },
      });
    }
  });

  it('logs a database error without its statement, values or stack', () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const failed = Object.assign(
      new Error(
        `update "users" set "password_hash" = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' - check violation`,
      ),
      { code: '23514' },
    );
    expect(respond(new DriverException(failed)).status).toBe(500);
    const logged = JSON.stringify(error.mock.calls.at(-1));
    expect(logged).toContain('database error 23514: check violation');
    expect(logged).not.toMatch(/argon2|password_hash|update| {4}at /);
  });
});
