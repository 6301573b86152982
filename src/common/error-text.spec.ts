import { DriverException } from '@mikro-orm/core';
import { describeError, isServerUnavailable } from './error-text';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA';

describe('describeError', () => {
  it('keeps only the SQLSTATE and PostgreSQL message of a database error', () => {
    const error = new DriverException(
      Object.assign(new Error(`insert into "users" values ('${HASH}') - deadlock detected`), {
        code: '40P01',
      }),
    );
    expect(describeError(error)).toBe('database error 40P01: deadlock detected');
  });

  it('describes the database error behind a wrapper, saying what failed', () => {
    const cause = Object.assign(
      new Error(`create table "crops" ("id" int) - relation "crops" already exists`),
      {
        code: '42P07',
      },
    );
    const wrapper = new Error(`Migration M1 (up) failed: Original error: ${cause.message}`, { cause });
    expect(describeError(wrapper)).toBe(
      'Migration M1 (up) failed: database error 42P07: relation "crops" already exists',
    );
  });

  it('leaves other errors as their message', () => {
    expect(describeError(new Error('template missing'))).toBe('template missing');
    expect(describeError('plain')).toBe('plain');
  });
});

describe('isServerUnavailable', () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    'ECONNREFUSED',
    'ENOENT',
    'EHOSTUNREACH',
    'EAI_AGAIN',
    '08006',
    '08P01',
    '53300',
    '57P01',
    '57P03',
    '57P05',
  ])('holds for %s, also as the cause of a wrapping error', (code) => {
    expect(isServerUnavailable(coded(code))).toBe(true);
    expect(isServerUnavailable(new Error('Migration X (up) failed', { cause: coded(code) }))).toBe(true);
  });

  it.each(['3D000', '28P01', '42P07', '53100', '53200', '53400', '57014', '57P04', '55P03', 'ECONNREFUSEDX'])(
    'does not hold for %s, nor as a cause',
    (code) => {
      expect(isServerUnavailable(coded(code))).toBe(false);
      expect(isServerUnavailable(new Error('Migration X (up) failed', { cause: coded(code) }))).toBe(false);
    },
  );

  it("holds for knex's timeout for a connection, which has no code", () => {
    const timeout = Object.assign(new Error('Knex: Timeout acquiring a connection'), {
      name: 'KnexTimeoutError',
    });
    expect(isServerUnavailable(timeout)).toBe(true);
  });

  it('looks five errors deep at most', () => {
    let wrapped: Error = coded('57P03');
    for (let i = 0; i < 4; i++) wrapped = new Error(`wrapper ${i}`, { cause: wrapped });
    expect(isServerUnavailable(wrapped)).toBe(true);
    expect(isServerUnavailable(new Error('one more', { cause: wrapped }))).toBe(false);
  });

  it('holds for node-postgres losing the connection under a query, which has no code', () => {
    expect(isServerUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('does not hold for an error without a code', () => {
    expect(isServerUnavailable(new Error('the server refused'))).toBe(false);
    expect(isServerUnavailable('down')).toBe(false);
  });
});
