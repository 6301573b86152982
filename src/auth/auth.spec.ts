import { BadRequestException, ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as fsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnauthenticatedError, UnavailableError } from '../common/domain-errors';
import { AccessTokens } from './access-tokens';
import type { AppConfig } from '../config/app-config';
import { AuthSecrets, loadOrCreateSecret } from './auth-secrets';
import { PublicTenantRoute } from './auth.decorators';
import type { EntityManager } from '@mikro-orm/postgresql';
import { recordLoginAttempt } from './login-throttle';
import {
  HASHING_PERMITS,
  HASHING_QUEUE,
  PasswordCheckPlace,
  PasswordHasher,
  threadPoolSize,
} from './password-hasher';
import { PlatformToken } from './platform-token';
import { bearerToken } from './principal';
import { roleAtLeast } from './roles';
import { TenantAuthGuard } from './tenant-auth.guard';

// The file system is real; its writing calls are watched, to see that an existing secret is only read.
jest.mock('node:fs/promises', () => {
  const actual = jest.requireActual<typeof fsPromises>('node:fs/promises');
  return {
    ...actual,
    writeFile: jest.fn(actual.writeFile),
    mkdir: jest.fn(actual.mkdir),
    link: jest.fn(actual.link),
  };
});

const SECRET = 'a unit-test secret of more than thirty-two characters';
const USER = '0f8b0a3e-8d9b-4c1e-9a55-3f2b1c4d5e6f';

describe('roleAtLeast', () => {
  it('ranks viewer < member < admin', () => {
    expect(roleAtLeast('admin', 'member')).toBe(true);
    expect(roleAtLeast('member', 'member')).toBe(true);
    expect(roleAtLeast('member', 'admin')).toBe(false);
    expect(roleAtLeast('viewer', 'member')).toBe(false);
    expect(roleAtLeast('viewer', 'viewer')).toBe(true);
  });
});

describe('bearerToken', () => {
  it('takes the credential of a Bearer Authorization header, case-insensitively, and nothing else', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Basic YTpi')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
  });
});

describe('PlatformToken', () => {
  it('matches only the exact token', () => {
    const token = new PlatformToken('x'.repeat(40));
    expect(token.matches('x'.repeat(40))).toBe(true);
    expect(token.matches('x'.repeat(39))).toBe(false);
    expect(token.matches('')).toBe(false);
    expect(token.matches(undefined)).toBe(false);
  });
});

describe('AccessTokens', () => {
  const tokens = new AccessTokens(SECRET, 900);
  const claims = { sub: USER, tid: 'green-valley', role: 'member' as const, ver: 2 };

  it('verifies what it issued', () => {
    const { accessToken, expiresIn } = tokens.issue(claims);
    expect(expiresIn).toBe(900);
    expect(tokens.verify(accessToken)).toEqual(claims);
  });

  it('refuses tokens without the claims it issues, or of another issuer or algorithm', () => {
    const jwt = new JwtService({ secret: SECRET });
    const forged = [
      jwt.sign({ ...claims, sub: 'not-a-uuid' }, { issuer: 'farm-management' }),
      jwt.sign({ ...claims, role: 'owner' }, { issuer: 'farm-management' }),
      jwt.sign({ ...claims, ver: '2' }, { issuer: 'farm-management' }),
      jwt.sign({ ...claims }, { issuer: 'someone-else' }),
      jwt.sign({ ...claims }, { issuer: 'farm-management', algorithm: 'HS512' }),
    ];
    for (const token of forged) {
      expect(() => tokens.verify(token)).toThrow(UnauthenticatedError);
    }
  });
});

describe('loadOrCreateSecret', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'secrets-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a 0600 file once; concurrent and later callers read the same value', async () => {
    const results = await Promise.all([1, 2, 3].map(() => loadOrCreateSecret(join(dir, 'nested'), 'key')));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.value)).size).toBe(1);
    const file = join(dir, 'nested', 'key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8').trim()).toBe(results[0].value);
    expect(await loadOrCreateSecret(join(dir, 'nested'), 'key')).toEqual({
      value: results[0].value,
      created: false,
    });
  });

  it('only reads an existing secret, so a read-only SECRETS_DIR works', async () => {
    const { value } = await loadOrCreateSecret(dir, 'key');
    const writes = [fsPromises.writeFile, fsPromises.mkdir, fsPromises.link] as unknown as jest.Mock[];
    writes.forEach((write) => write.mockClear());
    expect(await loadOrCreateSecret(dir, 'key')).toEqual({ value, created: false });
    writes.forEach((write) => expect(write).not.toHaveBeenCalled());
  });

  it('refuses a file too short to be a secret', async () => {
    await loadOrCreateSecret(dir, 'key');
    writeFileSync(join(dir, 'key'), 'short\n');
    await expect(loadOrCreateSecret(dir, 'key')).rejects.toThrow(/fewer than 32 characters/);
  });
});

describe('AuthSecrets', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'secrets-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const fromDir = () => AuthSecrets.fromConfig({ SECRETS_DIR: dir, JWT_SECRET: 'j'.repeat(32) } as AppConfig);

  it('refuses a platform token file no Bearer header can carry, as the environment variable is refused', async () => {
    writeFileSync(join(dir, 'platform-admin-token'), 'a platform token with spaces in it, 1234\n');
    await expect(fromDir()).rejects.toThrow(/platform-admin-token must hold printable ASCII without spaces/);
    writeFileSync(join(dir, 'platform-admin-token'), 'a-platform-token-without-spaces-1234\n');
    expect((await fromDir()).platformToken).toBe('a-platform-token-without-spaces-1234');
  });
});

describe('PasswordHasher', () => {
  const busy = expect.objectContaining({ code: 'PASSWORD_CHECKS_BUSY', retryAfterSeconds: 1 });

  it(`answers 503 at once beyond ${HASHING_PERMITS} running and ${HASHING_QUEUE} waiting checks, then admits again`, async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('the right password');
    const admitted = HASHING_PERMITS + HASHING_QUEUE;
    const results = await Promise.allSettled(
      Array.from({ length: admitted + 3 }, (_, i) =>
        hasher.verify(i % 2 === 0 ? hash : null, i === 0 ? 'the right password' : 'wrong'),
      ),
    );
    expect(results.slice(0, admitted).map((result) => result.status)).toEqual(
      Array(admitted).fill('fulfilled'),
    );
    expect(results[0]).toEqual({ status: 'fulfilled', value: true });
    for (const result of results.slice(admitted)) {
      expect(result.status === 'rejected' && result.reason).toEqual(expect.any(UnavailableError));
      expect(result.status === 'rejected' && result.reason).toEqual(busy);
    }
    await expect(hasher.verify(hash, 'the right password')).resolves.toBe(true);
  });

  it('keeps a place taken ahead for its check, counts it until used or given back, and gives it back once', async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('the right password');
    const full = HASHING_PERMITS + HASHING_QUEUE;
    const places = Array.from({ length: full }, () => hasher.admit());
    await expect(hasher.verify(hash, 'the right password')).rejects.toEqual(busy);
    await expect(hasher.hash('another password')).rejects.toEqual(busy);
    await expect(places[0].verify(hash, 'the right password')).resolves.toBe(true);
    await expect(places[0].verify(hash, 'the right password')).rejects.toThrow(/serves one check/);
    places[0].release();
    for (const place of places.slice(1)) {
      place.release();
      place.release();
    }
    const again = Array.from({ length: full }, () => hasher.admit());
    expect(() => hasher.admit()).toThrow(busy);
    again.forEach((place) => place.release());
  });
});

describe('threadPoolSize', () => {
  it('reads UV_THREADPOOL_SIZE as libuv does: 4 unset, 1 for 0 or no number, at most 1024', () => {
    const cases: Array<[string | undefined, number]> = [
      [undefined, 4],
      ['', 1],
      ['0', 1],
      ['abc', 1],
      ['8', 8],
      ['-3', 1024],
      ['5000', 1024],
    ];
    for (const [setting, size] of cases)
      expect({ setting, size: threadPoolSize(setting) }).toEqual({ setting, size });
  });
});

describe('recordLoginAttempt', () => {
  /** A transaction that answers the window's count with `failures`, runs the work, then fails to commit. */
  const failingCommit = (failures: number) =>
    ({
      transactional: async (work: (tx: unknown) => Promise<unknown>) => {
        await work({
          execute: (sql: string) =>
            Promise.resolve(
              sql.includes('count(*)')
                ? [{ failures, underWay: 0, wait: 60 }]
                : sql.includes('insert')
                  ? [{ id: '1' }]
                  : [],
            ),
        });
        throw new Error('commit failed');
      },
    }) as unknown as EntityManager;

  it('gives the place back when the attempt does not commit, and takes none for a locked email', async () => {
    const place: PasswordCheckPlace = { verify: jest.fn(), release: jest.fn() };
    const admit = jest.fn(() => place);
    await expect(recordLoginAttempt(failingCommit(0), 'a@b.co', admit)).rejects.toThrow('commit failed');
    expect(admit).toHaveBeenCalledTimes(1);
    expect(place.release).toHaveBeenCalledTimes(1);
    admit.mockClear();
    await expect(recordLoginAttempt(failingCommit(5), 'a@b.co', admit)).rejects.toMatchObject({
      code: 'LOGIN_LOCKED',
    });
    expect(admit).not.toHaveBeenCalled();
  });
});

describe('TenantAuthGuard', () => {
  const newGuard = () => new TenantAuthGuard(new Reflector());

  it('fails closed with 400 on a route the tenant middleware did not validate, even a public one', async () => {
    const guard = newGuard();
    const context = {
      switchToHttp: () => ({
        getRequest: () => ({ method: 'GET', headers: { authorization: `Bearer ${'p'.repeat(40)}` } }),
      }),
      getHandler: () => () => undefined,
      getClass: () => class {},
    } as unknown as ExecutionContext;
    await expect(guard.canActivate(context)).rejects.toThrow(BadRequestException);
  });

  it("keeps each route's access apart: one handler on a public controller and on a guarded one, either first", async () => {
    const handler = () => undefined;
    class PublicController {}
    PublicTenantRoute()(PublicController);
    class GuardedController {}
    const contextOf = (controller: object) =>
      ({
        switchToHttp: () => ({
          getRequest: () => ({
            method: 'GET',
            headers: {},
            tenant: { lease: { tenantId: 'green-valley' } },
          }),
        }),
        getHandler: () => handler,
        getClass: () => controller,
      }) as unknown as ExecutionContext;
    const admitsPublic = (guard: TenantAuthGuard) =>
      expect(guard.canActivate(contextOf(PublicController))).resolves.toBe(true);
    const refusesGuarded = (guard: TenantAuthGuard) =>
      expect(guard.canActivate(contextOf(GuardedController))).rejects.toMatchObject({
        code: 'AUTH_REQUIRED',
      });
    const publicFirst = newGuard();
    await admitsPublic(publicFirst);
    await refusesGuarded(publicFirst);
    const guardedFirst = newGuard();
    await refusesGuarded(guardedFirst);
    await admitsPublic(guardedFirst);
  });
});
