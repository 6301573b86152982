import { DriverException } from '@mikro-orm/core';
import { describeError } from './error-text';

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
