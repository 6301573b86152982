import { LoggerService } from '@nestjs/common';
import * as argon2 from 'argon2';
import { JwtService } from '@nestjs/jwt';
import type { Response } from 'supertest';
import { PasswordHasher } from '../src/auth/password-hasher';
import { advisoryLock, lockKey } from '../src/database/advisory-lock';
import { UnavailableError } from '../src/common/domain-errors';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import {
  asTenant,
  logIn,
  OWNER_PASSWORD,
  rawRequest,
  SignedUp,
  sqlIn,
  startTestApp,
  stopTestApp,
  TestApp,
  whileLockedIn,
  withMaintenanceClient,
} from './support/test-app';
import { until } from './support/until';

/** Every line the app logs, at every level. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  private add(level: string, message: unknown, rest: unknown[]) {
    this.lines.push(`${level} ${[message, ...rest].map((part) => String(part)).join(' ')}`);
  }
  log = (message: unknown, ...rest: unknown[]) => this.add('log', message, rest);
  error = (message: unknown, ...rest: unknown[]) => this.add('error', message, rest);
  warn = (message: unknown, ...rest: unknown[]) => this.add('warn', message, rest);
  debug = (message: unknown, ...rest: unknown[]) => this.add('debug', message, rest);
  verbose = (message: unknown, ...rest: unknown[]) => this.add('verbose', message, rest);
}

type Role = 'viewer' | 'member' | 'admin';
const ROLES: Role[] = ['viewer', 'member', 'admin'];
const PASSWORD = 'role password 12345';

describe('security', () => {
  const logger = new CapturingLogger();
  /** Every response body and header block this suite received, checked for secrets at the end. */
  const responses: string[] = [];
  let t: TestApp;
  const A = 'secure-farm-a';
  const B = 'secure-farm-b';
  const tokens = {} as Record<Role, string>;
  /** Every password sent by this suite. */
  const passwords = new Set([OWNER_PASSWORD, PASSWORD]);

  const record = (res: Response): Response => {
    responses.push(JSON.stringify(res.headers), res.text ?? '');
    return res;
  };
  const as = (token: string, tenant = A) => {
    const api = asTenant(t, tenant, token);
    return {
      get: async (path: string) => record(await api.get(path)),
      post: async (path: string, body: object) => record(await api.post(path, body)),
      patch: async (path: string, body: object) => record(await api.patch(path, body)),
      delete: async (path: string) => record(await api.delete(path)),
    };
  };
  const login = async (email: string, password: string, tenant = A) => {
    passwords.add(password);
    return record(await t.anon.post('/api/auth/login').set('X-Tenant-ID', tenant).send({ email, password }));
  };
  /** Expects 429 LOGIN_LOCKED; its Retry-After, in seconds. */
  const lockedFor = (res: Response): number => {
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 429, code: 'LOGIN_LOCKED' });
    return Number(res.headers['retry-after']);
  };
  const admin = () => as(tokens.admin);
  const addUser = async (role: Role, email: string, password = PASSWORD) => {
    passwords.add(password);
    const res = await admin().post('/api/users', {
      firstName: role,
      lastName: 'User',
      email,
      password,
      role,
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; email: string; role: Role };
  };
  const addCrop = async () =>
    (await admin().post('/api/crops', { name: 'Barley', plantingDate: '2025-03-01' })).body as { id: string };
  const addHarvest = async () => {
    const crop = await addCrop();
    const res = await admin().post('/api/harvests', {
      cropId: crop.id,
      quantity: 3,
      unit: 'kg',
      harvestedAt: '2025-06-01',
    });
    return { ...(res.body as { id: string }), cropId: crop.id };
  };

  beforeAll(async () => {
    t = await startTestApp({ logger });
    tokens.admin = (await t.signUp('Secure Farm A')).token;
    await t.signUp('Secure Farm B');
    for (const role of ['viewer', 'member'] as const) {
      await addUser(role, `${role}@secure.example`);
      tokens[role] = (await login(`${role}@secure.example`, PASSWORD)).body.accessToken;
    }
  });

  afterAll(() => stopTestApp(t));

  describe('roles', () => {
    /** Each write route, with what it needs prepared by an admin, and the weakest role allowed to call it. */
    const writeRoutes: Array<{
      route: string;
      minimum: Role;
      call: (api: ReturnType<typeof as>) => Promise<Response>;
    }> = [
      {
        route: 'POST /api/crops',
        minimum: 'member',
        call: (api) => api.post('/api/crops', { name: 'Oats', plantingDate: '2025-04-01' }),
      },
      {
        route: 'PATCH /api/crops/:id',
        minimum: 'member',
        call: async (api) => api.patch(`/api/crops/${(await addCrop()).id}`, { name: 'Rye' }),
      },
      {
        route: 'DELETE /api/crops/:id',
        minimum: 'member',
        call: async (api) => api.delete(`/api/crops/${(await addCrop()).id}`),
      },
      {
        route: 'POST /api/harvests',
        minimum: 'member',
        call: async (api) =>
          api.post('/api/harvests', {
            cropId: (await addCrop()).id,
            quantity: 1,
            unit: 'kg',
            harvestedAt: '2025-07-01',
          }),
      },
      {
        route: 'PATCH /api/harvests/:id',
        minimum: 'member',
        call: async (api) => api.patch(`/api/harvests/${(await addHarvest()).id}`, { quantity: 2 }),
      },
      {
        route: 'DELETE /api/harvests/:id',
        minimum: 'member',
        call: async (api) => api.delete(`/api/harvests/${(await addHarvest()).id}`),
      },
      {
        route: 'POST /api/users',
        minimum: 'admin',
        call: (api) =>
          api.post('/api/users', {
            firstName: 'New',
            lastName: 'User',
            email: `new-${Math.random().toString(36).slice(2)}@secure.example`,
            password: PASSWORD,
          }),
      },
      {
        route: 'PATCH /api/users/:id',
        minimum: 'admin',
        call: async (api) =>
          api.patch(`/api/users/${(await addUser('viewer', `p-${Date.now()}@secure.example`)).id}`, {
            lastName: 'Changed',
          }),
      },
      {
        route: 'DELETE /api/users/:id',
        minimum: 'admin',
        call: async (api) =>
          api.delete(`/api/users/${(await addUser('viewer', `d-${Date.now()}@secure.example`)).id}`),
      },
    ];

    it('lets each role call exactly the write routes its rank allows (role x route matrix)', async () => {
      const outcome: Record<string, string> = {};
      const expected: Record<string, string> = {};
      for (const { route, minimum, call } of writeRoutes) {
        for (const role of ROLES) {
          const res = await call(as(tokens[role]));
          outcome[`${role} ${route}`] = res.status < 300 ? 'allowed' : `${res.status} ${res.body.code}`;
          expected[`${role} ${route}`] =
            ROLES.indexOf(role) >= ROLES.indexOf(minimum) ? 'allowed' : '403 ROLE_FORBIDDEN';
        }
      }
      expect(outcome).toEqual(expected);
    });

    it('changes nothing when a write is refused', async () => {
      const crop = await addCrop();
      await as(tokens.viewer).patch(`/api/crops/${crop.id}`, { name: 'Hijacked' });
      await as(tokens.viewer).delete(`/api/crops/${crop.id}`);
      expect((await admin().get(`/api/crops/${crop.id}`)).body.name).toBe('Barley');
      const before = (await admin().get('/api/users?limit=200')).body.length;
      await as(tokens.member).post('/api/users', {
        firstName: 'Sneaky',
        lastName: 'Admin',
        email: 'sneaky@secure.example',
        password: PASSWORD,
        role: 'admin',
      });
      expect((await admin().get('/api/users?limit=200')).body).toHaveLength(before);
    });

    it('lets every role read everything', async () => {
      for (const role of ROLES) {
        for (const path of ['/api/crops', '/api/harvests', '/api/users', '/api/reports/harvest-summary']) {
          expect({ role, path, status: (await as(tokens[role]).get(path)).status }).toEqual({
            role,
            path,
            status: 200,
          });
        }
        expect((await as(tokens[role]).get('/api/auth/me')).body).toMatchObject({ role });
      }
    });

    it('answers 401 on every tenant route without a token, and with a malformed Authorization header', async () => {
      const routes: Array<[string, string]> = [
        ['get', '/api/crops'],
        ['post', '/api/crops'],
        ['get', '/api/harvests'],
        ['post', '/api/harvests'],
        ['get', '/api/users'],
        ['post', '/api/users'],
        ['get', '/api/reports/harvest-summary'],
        ['get', '/api/auth/me'],
        ['post', '/api/auth/password'],
      ];
      for (const [method, path] of routes) {
        const res = record(await t.anon[method as 'get'](path).set('X-Tenant-ID', A).send({}));
        expect({ method, path, status: res.status, code: res.body.code }).toEqual({
          method,
          path,
          status: 401,
          code: 'AUTH_REQUIRED',
        });
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
      for (const authorization of ['Basic YTpi', 'Bearer', `Token ${tokens.admin}`, 'Bearer a b']) {
        const res = record(
          await t.anon.get('/api/crops').set('X-Tenant-ID', A).set('Authorization', authorization),
        );
        expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
      }
    });
  });

  describe('tokens', () => {
    const jwt = () => new JwtService({ secret: t.config.JWT_SECRET });
    const claimsOf = (token: string) =>
      JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

    it('issues a bearer token bound to the tenant, with the user id, role and lifetime', async () => {
      const res = await login(`member@secure.example`, PASSWORD);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: 900,
        user: expect.objectContaining({ email: 'member@secure.example', role: 'member' }),
      });
      const claims = claimsOf(res.body.accessToken);
      expect(claims).toMatchObject({ sub: res.body.user.id, tid: A, role: 'member', iss: 'farm-management' });
      expect(Number(claims.exp) - Number(claims.iat)).toBe(900);
    });

    it("refuses a token of tenant A on tenant B's routes with 403, and leaves B untouched", async () => {
      for (const role of ROLES) {
        const read = await as(tokens[role], B).get('/api/crops');
        expect({ role, status: read.status, code: read.body.code }).toEqual({
          role,
          status: 403,
          code: 'TENANT_MISMATCH',
        });
      }
      const write = await as(tokens.admin, B).post('/api/crops', {
        name: 'Planted',
        plantingDate: '2025-01-01',
      });
      expect(write.status).toBe(403);
      expect((await as(t.ownerToken(B), B).get('/api/crops')).body).toEqual([]);
    });

    it("opens no closed tenant for a request it refuses: no slot, no backend, no other tenant's eviction", async () => {
      const connections = t.app.get(TenantConnectionRegistry);
      await connections.evict(B);
      const backends = () =>
        withMaintenanceClient(async (client) => {
          const { rows } = await client.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
            [`${t.prefix}${B}`],
          );
          return rows[0].n;
        });
      const opensBefore = connections.stats().opens;
      const refused: Array<[string, string | undefined, number, string]> = [
        ['/api/crops', undefined, 401, 'AUTH_REQUIRED'],
        ['/api/crops', 'Bearer not-a-token', 401, 'TOKEN_INVALID'],
        ['/api/crops', `Bearer ${tokens.admin}`, 403, 'TENANT_MISMATCH'],
        ['/api/no-such-route', undefined, 401, 'AUTH_REQUIRED'],
        ['/api/auth/login', undefined, 401, 'AUTH_REQUIRED'],
      ];
      for (const [path, authorization, status, code] of refused) {
        const request = t.anon.get(path).set('X-Tenant-ID', B);
        const res = record(await (authorization ? request.set('Authorization', authorization) : request));
        expect({ path, authorization, status: res.status, code: res.body.code }).toEqual({
          path,
          authorization,
          status,
          code,
        });
      }
      expect(connections.stats().opens).toBe(opensBefore);
      expect(connections.isKept(B)).toBe(false);
      expect(await backends()).toBe(0);
      // Login is public, whatever the case of its path and with Express's optional trailing slash.
      const loggedIn = record(
        await t.anon
          .post('/API/Auth/Login/')
          .set('X-Tenant-ID', B)
          .send({ email: `owner-${B}@example.test`, password: OWNER_PASSWORD }),
      );
      expect(loggedIn.status).toBe(200);
      expect(connections.isOpen(B)).toBe(true);
      expect(connections.stats().opens).toBe(opensBefore + 1);
    });

    it('refuses tampered, unsigned, foreign-key and expired tokens with 401', async () => {
      const [header, , signature] = tokens.viewer.split('.');
      const promoted = Buffer.from(JSON.stringify({ ...claimsOf(tokens.viewer), role: 'admin' })).toString(
        'base64url',
      );
      const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${promoted}.`;
      const claims = claimsOf(tokens.admin);
      const foreign = new JwtService({ secret: 'another secret of at least thirty-two chars' }).sign({
        ...claims,
      });
      const now = Math.floor(Date.now() / 1000);
      const expired = jwt().sign({ ...claims, iat: now - 1000, exp: now - 100 });
      const cases: Array<[string, string, string]> = [
        ['tampered payload', `${header}.${promoted}.${signature}`, 'TOKEN_INVALID'],
        ['alg none', unsigned, 'TOKEN_INVALID'],
        ['signed with another key', foreign, 'TOKEN_INVALID'],
        ['expired', expired, 'TOKEN_EXPIRED'],
        ['garbage', 'not.a.jwt', 'TOKEN_INVALID'],
        [
          'no tenant claim',
          jwt().sign({ sub: claims.sub, role: 'admin', ver: 0, iss: 'farm-management' }),
          'TOKEN_INVALID',
        ],
      ];
      for (const [name, token, code] of cases) {
        const res = await as(token).post('/api/crops', { name: 'Forged', plantingDate: '2025-01-01' });
        expect({ name, status: res.status, code: res.body.code }).toEqual({ name, status: 401, code });
      }
      const crops = (await admin().get('/api/crops?limit=200')).body as Array<{ name: string }>;
      expect(crops.filter((crop) => crop.name === 'Forged')).toEqual([]);
    });

    it('revokes the tokens of a deleted user', async () => {
      const user = await addUser('member', 'leaving@secure.example');
      const token = (await login('leaving@secure.example', PASSWORD)).body.accessToken;
      expect((await as(token).get('/api/crops')).status).toBe(200);
      expect((await admin().delete(`/api/users/${user.id}`)).status).toBe(204);
      const res = await as(token).get('/api/crops');
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'TOKEN_REVOKED' });
    });

    it('revokes older tokens when the password changes, and the new password works', async () => {
      await addUser('viewer', 'changer@secure.example');
      const old = (await login('changer@secure.example', PASSWORD)).body.accessToken;
      const wrong = await as(old).post('/api/auth/password', {
        currentPassword: 'not my password',
        newPassword: 'a brand new password',
      });
      expect({ status: wrong.status, code: wrong.body.code }).toEqual({
        status: 403,
        code: 'PASSWORD_WRONG',
      });
      const short = await as(old).post('/api/auth/password', {
        currentPassword: PASSWORD,
        newPassword: 'short',
      });
      expect(short.status).toBe(400);
      passwords.add('a brand new password');
      const changed = await as(old).post('/api/auth/password', {
        currentPassword: PASSWORD,
        newPassword: 'a brand new password',
      });
      expect(changed.status).toBe(200);
      expect((await as(old).get('/api/auth/me')).body.code).toBe('TOKEN_REVOKED');
      expect((await as(changed.body.accessToken).get('/api/auth/me')).body.email).toBe(
        'changer@secure.example',
      );
      expect((await login('changer@secure.example', PASSWORD)).status).toBe(401);
      expect((await login('changer@secure.example', 'a brand new password')).status).toBe(200);
    });

    it('never leaves a password change and a concurrent admin reset both in effect', async () => {
      for (let round = 0; round < 4; round++) {
        const user = await addUser('viewer', `race-${round}@secure.example`);
        const token = (await login(`race-${round}@secure.example`, PASSWORD)).body.accessToken;
        const [changed] = await Promise.all([
          as(token).post('/api/auth/password', {
            currentPassword: PASSWORD,
            newPassword: 'changed by the user',
          }),
          admin().patch(`/api/users/${user.id}`, { password: 'reset by the admin' }),
        ]);
        passwords.add('changed by the user');
        passwords.add('reset by the admin');
        const byUser = await login(`race-${round}@secure.example`, 'changed by the user');
        const byAdmin = await login(`race-${round}@secure.example`, 'reset by the admin');
        // Exactly one password is in effect; the user's new token is valid only if theirs is.
        expect([byUser.status, byAdmin.status].sort()).toEqual([200, 401]);
        if (changed.status === 200) {
          const status = (await as(changed.body.accessToken).get('/api/auth/me')).status;
          expect({ round, status }).toEqual({ round, status: byUser.status === 200 ? 200 : 401 });
        } else {
          expect({ round, code: changed.body.code }).toEqual({ round, code: 'TOKEN_REVOKED' });
        }
      }
    });

    it("revokes a user's tokens when an admin resets the password; role changes apply at once", async () => {
      const user = await addUser('member', 'reset@secure.example');
      const token = (await login('reset@secure.example', PASSWORD)).body.accessToken;
      expect((await admin().patch(`/api/users/${user.id}`, { role: 'viewer' })).body.role).toBe('viewer');
      const demoted = await as(token).post('/api/crops', { name: 'Late', plantingDate: '2025-01-01' });
      expect({ status: demoted.status, code: demoted.body.code }).toEqual({
        status: 403,
        code: 'ROLE_FORBIDDEN',
      });
      passwords.add('reset by the admin');
      await admin().patch(`/api/users/${user.id}`, { password: 'reset by the admin' });
      expect((await as(token).get('/api/crops')).status).toBe(401);
      expect((await login('reset@secure.example', 'reset by the admin')).status).toBe(200);
    });
  });

  describe('login', () => {
    it('answers an unknown email and a wrong password alike', async () => {
      await addUser('viewer', 'alike@secure.example');
      const unknown = await login('nobody@secure.example', 'whatever password');
      const wrong = await login('alike@secure.example', 'whatever password');
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual(wrong.body);
      expect(unknown.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'The email or the password is wrong',
        code: 'INVALID_CREDENTIALS',
      });
    });

    it('logs in with an absolute URL in the request line, by the path Express routes it to', async () => {
      await addUser('viewer', 'absolute@secure.example');
      const body = JSON.stringify({ email: 'absolute@secure.example', password: PASSWORD });
      const answer = await rawRequest(
        t,
        {
          method: 'POST',
          path: 'http://farm.example/api/auth/login',
          headers: { 'content-type': 'application/json', 'x-tenant-id': A },
        },
        body,
      );
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toMatchObject({ accessToken: expect.any(String), tokenType: 'Bearer' });
    });

    it('takes a password typed composed or decomposed alike, and one hashed as sent before that', async () => {
      const composed = 'Café-garden-1';
      const decomposed = 'Cafe\u0301-garden-1';
      expect(decomposed.normalize('NFC')).toBe(composed);
      await addUser('viewer', 'nfc@secure.example', decomposed);
      expect((await login('nfc@secure.example', composed)).status).toBe(200);
      expect((await login('nfc@secure.example', decomposed)).status).toBe(200);
      // A hash from before: of the password as it was sent, decomposed.
      const hash = await argon2.hash(decomposed, { type: argon2.argon2id });
      await sqlIn(
        `${t.prefix}${A}`,
        `INSERT INTO users (id, first_name, last_name, email, role, password_hash)
         VALUES (gen_random_uuid(), 'Old', 'Hash', 'nfd@secure.example', 'viewer', $1)`,
        [hash],
      );
      expect((await login('nfd@secure.example', decomposed)).status).toBe(200);
      expect((await login('nfd@secure.example', 'Cafe-garden-1')).status).toBe(401);
    });

    it('refuses the old password when a reset commits while the login checks it (no token revoked at once)', async () => {
      await addUser('viewer', 'reset-racing@secure.example');
      const reset = `UPDATE users SET credentials_version = credentials_version + 1
                     WHERE email = 'reset-racing@secure.example'`;
      const res = await whileLockedIn(`${t.prefix}${A}`, [[reset]], () =>
        login('reset-racing@secure.example', PASSWORD),
      );
      expect([res.status, res.body.code]).toEqual([401, 'INVALID_CREDENTIALS']);
    });

    it('does not count toward the lockout a login the busy hasher refused (503)', async () => {
      await addUser('viewer', 'busy@secure.example');
      expect((await login('busy@secure.example', 'a wrong guess')).status).toBe(401);
      const hasher = t.app.get(PasswordHasher);
      const admit = jest.spyOn(hasher, 'admit').mockImplementation(() => {
        throw new UnavailableError('PASSWORD_CHECKS_BUSY', 'busy', 1);
      });
      try {
        for (let i = 0; i < 5; i++) {
          const res = await login('busy@secure.example', PASSWORD);
          expect({
            i,
            status: res.status,
            code: res.body.code,
            retryAfter: res.headers['retry-after'],
          }).toEqual({
            i,
            status: 503,
            code: 'PASSWORD_CHECKS_BUSY',
            retryAfter: '1',
          });
        }
      } finally {
        admit.mockRestore();
      }
      const [counted] = await sqlIn<{ n: number }>(
        `${t.prefix}${A}`,
        "SELECT count(*)::int AS n FROM login_failures WHERE email_key = 'busy@secure.example'",
      );
      expect(counted.n).toBe(1);
      expect((await login('busy@secure.example', PASSWORD)).status).toBe(200);
    });

    it('locks an email after 5 failures in 15 minutes (429 with Retry-After), per tenant and email', async () => {
      await addUser('viewer', 'target@secure.example');
      for (let i = 0; i < 5; i++)
        expect((await login('target@secure.example', `guess ${i}`)).status).toBe(401);
      // Refused before its check's place is taken: a locked email's attempts hold no place of the hasher's.
      const admit = jest.spyOn(t.app.get(PasswordHasher), 'admit');
      let locked: Response;
      try {
        locked = await login('target@secure.example', PASSWORD);
        expect(admit).not.toHaveBeenCalled();
      } finally {
        admit.mockRestore();
      }
      const retryAfter = lockedFor(locked);
      expect(retryAfter).toBeGreaterThan(14 * 60);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      expect((await login('TARGET@secure.example', PASSWORD)).status).toBe(429);
      expect((await login('viewer@secure.example', PASSWORD)).status).toBe(200);
      // Another tenant's user with the same email is not locked out.
      await as(t.ownerToken(B), B).post('/api/users', {
        firstName: 'T',
        lastName: 'B',
        email: 'target@secure.example',
        password: PASSWORD,
      });
      expect((await login('target@secure.example', PASSWORD, B)).status).toBe(200);
      // The window passes: the failures are 15 minutes old.
      await sqlIn(
        `${t.prefix}${A}`,
        "UPDATE login_failures SET failed_at = failed_at - interval '15 minutes' WHERE email_key = $1",
        ['target@secure.example'],
      );
      expect((await login('target@secure.example', PASSWORD)).status).toBe(200);
    });

    it("lifts an email's lockout when an admin resets the user's password", async () => {
      const user = await addUser('viewer', 'unlocked@secure.example');
      for (let i = 0; i < 5; i++)
        expect((await login('unlocked@secure.example', `forgot ${i}`)).status).toBe(401);
      expect((await login('unlocked@secure.example', PASSWORD)).status).toBe(429);
      const reset = 'a reset passphrase 42';
      expect((await admin().patch(`/api/users/${user.id}`, { password: reset })).status).toBe(200);
      expect((await login('unlocked@secure.example', reset)).status).toBe(200);
      // Other changes leave a lockout alone.
      for (let i = 0; i < 5; i++)
        expect((await login('unlocked@secure.example', `forgot again ${i}`)).status).toBe(401);
      expect((await admin().patch(`/api/users/${user.id}`, { firstName: 'Still' })).status).toBe(200);
      expect((await login('unlocked@secure.example', reset)).status).toBe(429);
    });

    it('lets no more than 5 of many concurrent wrong guesses through to the password check', async () => {
      await addUser('viewer', 'flood@secure.example');
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => login('flood@secure.example', `flood guess ${i}`)),
      );
      const statuses = results.map((res) => res.status).sort();
      expect(statuses).toEqual([...Array(5).fill(401), ...Array(7).fill(429)]);
    });

    // Attempts count from their start: workers sharing an account and starting at once, beyond 5, are refused until
    // the checks under way end (the first success clears the count).
    it('tells a login beyond 5 attempts still being checked to retry in 1 s, not when the window ends', async () => {
      await addUser('viewer', 'shared@secure.example');
      const database = `${t.prefix}${A}`;
      await sqlIn(
        database,
        "INSERT INTO login_failures (email_key) SELECT 'shared@secure.example' FROM generate_series(1, 5)",
      );
      expect(lockedFor(await login('shared@secure.example', PASSWORD))).toBe(1);
      // Their checks failed: the wait is the window's.
      await sqlIn(
        database,
        "UPDATE login_failures SET checked = true WHERE email_key = 'shared@secure.example'",
      );
      expect(lockedFor(await login('shared@secure.example', PASSWORD))).toBeGreaterThan(14 * 60);
    });

    it('counts an attempt whose check never ended (its process died) as failed after a minute', async () => {
      await addUser('viewer', 'orphaned@secure.example');
      await sqlIn(
        `${t.prefix}${A}`,
        `INSERT INTO login_failures (email_key, failed_at)
         SELECT 'orphaned@secure.example', now() - interval '2 minutes' FROM generate_series(1, 5)`,
      );
      expect(lockedFor(await login('orphaned@secure.example', PASSWORD))).toBeGreaterThan(12 * 60);
    });

    it('counts wrong current passwords on POST /api/auth/password toward the lockout', async () => {
      await addUser('viewer', 'forgetful@secure.example');
      const token = (await login('forgetful@secure.example', PASSWORD)).body.accessToken;
      for (let i = 0; i < 5; i++) {
        const res = await as(token).post('/api/auth/password', {
          currentPassword: `not it ${i}`,
          newPassword: 'whatever new password',
        });
        expect(res.body.code).toBe('PASSWORD_WRONG');
      }
      const locked = await as(token).post('/api/auth/password', {
        currentPassword: PASSWORD,
        newPassword: 'whatever new password',
      });
      // The wrong ones count as failed, not as checks under way.
      expect(lockedFor(locked)).toBeGreaterThan(14 * 60);
      expect((await login('forgetful@secure.example', PASSWORD)).status).toBe(429);
    });

    it('takes ASCII email addresses only, so no email JavaScript lowers differently reaches the database', async () => {
      // Non-ASCII, and a quoted local part (isEmail takes it; OpenAPI's email format, and clients checking it, do not).
      for (const email of ['İsa@unicode.example', '"q"@secure.example']) {
        const created = await admin().post('/api/users', {
          firstName: 'I',
          lastName: 'Sa',
          email,
          password: PASSWORD,
        });
        expect({ email, status: created.status }).toEqual({ email, status: 400 });
        expect(created.body.message).toMatch(
          /email must be an email address of ASCII characters, without quotes/,
        );
      }
      // 254 characters that JavaScript would lower to 286: refused, never a 500.
      const long = `${'İ'.repeat(32)}${'a'.repeat(212)}@x.example`;
      expect(long).toHaveLength(254);
      expect((await login(long, PASSWORD)).status).toBe(400);
      await addUser('viewer', 'Mixed.Case@Secure.Example');
      expect((await login('mixed.case@secure.example', PASSWORD)).status).toBe(200);
    });

    it('validates the body', async () => {
      expect((await login('not-an-email', 'x')).status).toBe(400);
      const res = record(
        await t.anon.post('/api/auth/login').set('X-Tenant-ID', A).send({ email: 'a@b.co' }),
      );
      expect(res.body.message).toMatch(/password must be a string/);
      const missingTenant = record(
        await t.anon.post('/api/auth/login').send({ email: 'a@b.co', password: 'x' }),
      );
      expect(missingTenant.status).toBe(400);
    });
  });

  describe('the last admin', () => {
    /** A second admin of `farm`, added by its owner, and that admin's access token. */
    const addSecondAdmin = async (farm: SignedUp, email: string) => {
      const created = await as(farm.token, farm.tenantId).post('/api/users', {
        firstName: 'Second',
        lastName: 'Admin',
        email,
        password: PASSWORD,
        role: 'admin',
      });
      const token = (await login(email, PASSWORD, farm.tenantId)).body.accessToken as string;
      return { id: (created.body as { id: string }).id, token };
    };

    it('cannot be deleted or demoted (409); with a second admin, either can', async () => {
      const farm = await t.signUp('Lonely Admin Farm');
      const api = as(farm.token, farm.tenantId);
      const owner = (await api.get('/api/auth/me')).body as { id: string };
      const del = await api.delete(`/api/users/${owner.id}`);
      expect({ status: del.status, code: del.body.code }).toEqual({ status: 409, code: 'LAST_ADMIN' });
      const demote = await api.patch(`/api/users/${owner.id}`, { role: 'member' });
      expect({ status: demote.status, code: demote.body.code }).toEqual({ status: 409, code: 'LAST_ADMIN' });
      expect((await api.get('/api/auth/me')).body.role).toBe('admin');

      const second = await addSecondAdmin(farm, 'second@lonely.example');
      // Two admins demote each other at once: one wins and one admin remains. The loser gets 409 LAST_ADMIN when
      // its guard ran before the winner's commit, else 403 ROLE_FORBIDDEN (role changes apply at once).
      const [a, b] = await Promise.all([
        api.patch(`/api/users/${second.id}`, { role: 'viewer' }),
        as(second.token, farm.tenantId).patch(`/api/users/${owner.id}`, { role: 'viewer' }),
      ]);
      const [winner, loser] = a.status === 200 ? [a, b] : [b, a];
      expect(winner.status).toBe(200);
      expect([
        { status: 409, code: 'LAST_ADMIN' },
        { status: 403, code: 'ROLE_FORBIDDEN' },
      ]).toContainEqual({ status: loser.status, code: loser.body.code });
      const operator = as(t.platformToken, farm.tenantId);
      const users = (await operator.get('/api/users')).body as Array<{ id: string; role: string }>;
      const admins = users.filter((user) => user.role === 'admin');
      expect(admins).toHaveLength(1);
      // Not even the operator can remove the last admin; with a second one, an admin can be deleted.
      expect((await operator.delete(`/api/users/${admins[0].id}`)).body.code).toBe('LAST_ADMIN');
      const demoted = users.find((user) => user.role !== 'admin' && [owner.id, second.id].includes(user.id));
      expect((await operator.patch(`/api/users/${demoted!.id}`, { role: 'admin' })).status).toBe(200);
      expect((await operator.delete(`/api/users/${admins[0].id}`)).status).toBe(204);
    });

    it('refuses an admin demoted or deleted while the request waited for the admin lock', async () => {
      const farm = await t.signUp('Demoted Admin Farm');
      const database = `${t.prefix}${farm.tenantId}`;
      const owner = (await as(farm.token, farm.tenantId).get('/api/auth/me')).body as { id: string };
      const second = await addSecondAdmin(farm, 'second@demoted.example');
      const bySecond = as(second.token, farm.tenantId);
      /** Runs `sql` holding the app's admin lock; commits once `request` (past its guard) waits for that lock. */
      const meanwhile = (sql: string, request: () => Promise<Response>) =>
        whileLockedIn(
          database,
          [[`SELECT pg_advisory_xact_lock(hashtext('users:admins'))`], [sql, [second.id]]],
          request,
        );
      const demote = `UPDATE users SET role = 'viewer' WHERE id = $1`;
      passwords.add('taken over 12345');
      const reset = await meanwhile(demote, () =>
        bySecond.patch(`/api/users/${owner.id}`, { password: 'taken over 12345' }),
      );
      expect([reset.status, reset.body.code]).toEqual([403, 'ROLE_FORBIDDEN']);
      const ownerEmail = 'owner-demoted-admin-farm@example.test';
      expect((await login(ownerEmail, OWNER_PASSWORD, farm.tenantId)).status).toBe(200);
      await sqlIn(database, `UPDATE users SET role = 'admin' WHERE id = $1`, [second.id]);
      const created = await meanwhile(demote, () =>
        bySecond.post('/api/users', {
          firstName: 'Shadow',
          lastName: 'Admin',
          email: 'shadow@demoted.example',
          password: PASSWORD,
          role: 'admin',
        }),
      );
      expect([created.status, created.body.code]).toEqual([403, 'ROLE_FORBIDDEN']);
      await sqlIn(database, `UPDATE users SET role = 'admin' WHERE id = $1`, [second.id]);
      // The caller's password changed (its tokens revoked) while the request waited.
      const bump = 'UPDATE users SET credentials_version = credentials_version + 1 WHERE id = $1';
      const afterReset = await meanwhile(bump, () =>
        bySecond.patch(`/api/users/${owner.id}`, { role: 'viewer' }),
      );
      expect([afterReset.status, afterReset.body.code]).toEqual([401, 'TOKEN_REVOKED']);
      await sqlIn(database, 'UPDATE users SET credentials_version = credentials_version - 1 WHERE id = $1', [
        second.id,
      ]);
      const deleted = await meanwhile('DELETE FROM users WHERE id = $1', () =>
        bySecond.delete(`/api/users/${owner.id}`),
      );
      expect([deleted.status, deleted.body.code]).toEqual([401, 'TOKEN_REVOKED']);
      expect(await sqlIn(database, 'SELECT email, role FROM users')).toEqual([
        { email: ownerEmail, role: 'admin' },
      ]);
    });

    it('does not count an admin without a password (from before roles), who cannot log in', async () => {
      const farm = await t.signUp('Legacy Admin Farm');
      const api = as(farm.token, farm.tenantId);
      const [legacy] = await sqlIn<{ id: string }>(
        `${t.prefix}${farm.tenantId}`,
        `INSERT INTO users (id, first_name, last_name, email, role, password_hash)
         VALUES (gen_random_uuid(), 'Old', 'Timer', 'old@legacy.example', 'viewer', NULL) RETURNING id`,
      );
      expect((await api.patch(`/api/users/${legacy.id}`, { role: 'admin' })).status).toBe(200);
      const owner = (await api.get('/api/auth/me')).body as { id: string };
      const demote = await api.patch(`/api/users/${owner.id}`, { role: 'member' });
      expect({ status: demote.status, code: demote.body.code }).toEqual({ status: 409, code: 'LAST_ADMIN' });
      expect(demote.body.message).toMatch(/who can log in/);
      // The mistaken promotion can be undone: that admin is not one who can log in.
      expect((await api.patch(`/api/users/${legacy.id}`, { role: 'viewer' })).status).toBe(200);
      expect((await api.patch(`/api/users/${legacy.id}`, { role: 'admin' })).status).toBe(200);
      expect((await api.patch(`/api/users/${legacy.id}`, { password: 'a legacy passphrase' })).status).toBe(
        200,
      );
      expect((await api.patch(`/api/users/${owner.id}`, { role: 'member' })).status).toBe(200);
    });
  });

  describe('the platform operator', () => {
    it('uses the platform token on the control plane and, logged with the tenant, on tenant routes', async () => {
      expect((await t.anon.get('/organizations')).status).toBe(401);
      expect((await t.anon.get('/organizations').set('Authorization', 'Bearer wrong-token')).status).toBe(
        401,
      );
      expect(record(await t.http.get('/organizations')).status).toBe(200);
      expect((await t.anon.get(`/organizations/${A}`)).status).toBe(401);
      const userOnControlPlane = await t.anon
        .get('/organizations')
        .set('Authorization', `Bearer ${tokens.admin}`);
      expect({ status: userOnControlPlane.status, code: userOnControlPlane.body.code }).toEqual({
        status: 401,
        code: 'TOKEN_INVALID',
      });

      const operator = as(t.platformToken);
      const res = await operator.post('/api/crops', { name: 'Support Crop', plantingDate: '2025-02-02' });
      expect(res.status).toBe(201);
      expect((await operator.get('/api/users')).status).toBe(200);
      expect(logger.lines).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            new RegExp(
              `Platform operator access to tenant ${A}: POST /api/crops \\(request [0-9a-f-]{36}\\)`,
            ),
          ),
        ]),
      );
      const me = await operator.get('/api/auth/me');
      expect({ status: me.status, code: me.body.code }).toEqual({ status: 403, code: 'USER_TOKEN_REQUIRED' });
    });

    it('is required for sign-up in the default SIGNUP_MODE=admin', async () => {
      const body = {
        name: 'Anonymous Farm',
        farmType: 'dairy',
        owner: { firstName: 'A', lastName: 'N', email: 'a@anon.example', password: PASSWORD },
      };
      expect(record(await t.anon.post('/organizations').send(body)).status).toBe(401);
      expect(
        (await t.anon.post('/organizations').set('Authorization', 'Bearer nope').send(body)).status,
      ).toBe(401);
      expect((await t.http.get('/organizations/anonymous-farm')).status).toBe(404);
    });
  });

  it('never sends or logs a password or a password hash', () => {
    const everything = [...responses, ...logger.lines].join('\n');
    expect(responses.length).toBeGreaterThan(100);
    // Passwords too short to be told apart from ordinary text ('x') are left out.
    const leaked = [...passwords].filter((password) => password.length >= 8 && everything.includes(password));
    expect(leaked).toEqual([]);
    expect(everything.match(/\$argon2|passwordHash|password_hash/g)).toBeNull();
  });
});

describe('SIGNUP_MODE=open', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { SIGNUP_MODE: 'open' } });
  });

  afterAll(() => stopTestApp(t));

  it('lets anyone sign up with an owner, who can log in; the rest of the control plane stays closed', async () => {
    const owner = { firstName: 'Open', lastName: 'Owner', email: 'open@owner.example', password: PASSWORD };
    const created = await t.anon
      .post('/organizations')
      .send({ name: 'Open Farm', farmType: 'orchard', owner });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(
      ['createdAt', 'farmType', 'id', 'logoUrl', 'name', 'status', 'tenantId', 'updatedAt'].sort(),
    );
    expect(created.text).not.toMatch(/argon2|password/i);
    const token = await logIn(t.anon, 'open-farm', owner.email, PASSWORD);
    const me = await asTenant(t, 'open-farm', token).get('/api/auth/me').expect(200);
    expect(me.body).toMatchObject({ email: owner.email, role: 'admin', firstName: 'Open' });

    const noOwner = await t.anon.post('/organizations').send({ name: 'Ownerless Farm', farmType: 'dairy' });
    expect({ status: noOwner.status, code: noOwner.body.code }).toEqual({
      status: 400,
      code: 'OWNER_REQUIRED',
    });
    expect((await t.http.get('/organizations/ownerless-farm')).status).toBe(404);
    const badToken = await t.anon
      .post('/organizations')
      .set('Authorization', 'Bearer wrong')
      .send({ name: 'Bad Token Farm', farmType: 'dairy', owner });
    expect(badToken.status).toBe(401);
    expect((await t.anon.get('/organizations')).status).toBe(401);
    // The operator may still sign up without an owner.
    expect(
      (await t.http.post('/organizations').send({ name: 'Operator Farm', farmType: 'dairy' })).status,
    ).toBe(201);
  });

  it("does not let an anonymous retry take over another owner's failed sign-up", async () => {
    // A database in the way whose crops table makes the first migration fail.
    const database = `${t.prefix}stalled-farm`;
    await withMaintenanceClient((c) => c.query(`CREATE DATABASE "${database}"`));
    await sqlIn(database, 'CREATE TABLE crops (id int)');
    const owner = {
      firstName: 'First',
      lastName: 'Owner',
      email: 'first@stalled.example',
      password: PASSWORD,
    };
    const body = { name: 'Stalled Farm', farmType: 'dairy' };
    expect((await t.anon.post('/organizations').send({ ...body, owner })).status).toBe(503);
    // Another owner, or the same email with another password: refused, the first owner stays. Another email is
    // refused before its password is hashed.
    const hash = jest.spyOn(t.app.get(PasswordHasher), 'hash');
    try {
      for (const [intruder, hashed] of [
        [{ ...owner, email: 'intruder@evil.example', password: 'intruder password' }, 0],
        [{ ...owner, password: 'intruder password' }, 1],
      ] as const) {
        const takeover = await t.anon.post('/organizations').send({ ...body, owner: intruder });
        expect({ status: takeover.status, code: takeover.body.code }).toEqual({
          status: 409,
          code: 'ORGANIZATION_NAME_TAKEN',
        });
        expect(hash).toHaveBeenCalledTimes(hashed);
      }
    } finally {
      hash.mockRestore();
    }
    await sqlIn(database, 'DROP TABLE crops');
    // The operator's retry without an owner finishes the sign-up with the first owner.
    expect((await t.http.post('/organizations').send(body)).status).toBe(201);
    const token = await logIn(t.anon, 'stalled-farm', owner.email, PASSWORD);
    const users = await asTenant(t, 'stalled-farm', token).get('/api/users').expect(200);
    expect(users.body).toEqual([expect.objectContaining({ email: owner.email, role: 'admin' })]);
  });
  it("answers its owner's concurrent retries of a failed sign-up with one 201 and SIGNUP_IN_PROGRESS", async () => {
    const database = `${t.prefix}retried-farm`;
    await withMaintenanceClient((c) => c.query(`CREATE DATABASE "${database}"`));
    await sqlIn(database, 'CREATE TABLE crops (id int)');
    const owner = { firstName: 'Re', lastName: 'Try', email: 're@retried.example', password: PASSWORD };
    const body = { name: 'Retried Farm', farmType: 'dairy', owner };
    expect((await t.anon.post('/organizations').send(body)).status).toBe(503);
    await sqlIn(database, 'DROP TABLE crops');
    // Each retry checks the owner's password before its claim: all three find the sign-up failed, one claims it. The
    // claimant's provisioning waits for its database's lock here until the other two have been answered.
    const retries = await withMaintenanceClient(async (holder) => {
      await advisoryLock(holder, lockKey(`database:${database}`));
      const answered: Response[] = [];
      const sent = [1, 2, 3].map(() =>
        t.anon
          .post('/organizations')
          .send(body)
          .then((res) => {
            answered.push(res);
            return res;
          }),
      );
      await until(() => answered.length === 2, 20_000);
      expect(answered.map((res) => [res.status, res.body.code])).toEqual([
        [409, 'SIGNUP_IN_PROGRESS'],
        [409, 'SIGNUP_IN_PROGRESS'],
      ]);
      return sent;
    });
    expect((await Promise.all(retries)).map((res) => [res.status, res.body.code]).sort()).toEqual([
      [201, undefined],
      [409, 'SIGNUP_IN_PROGRESS'],
      [409, 'SIGNUP_IN_PROGRESS'],
    ]);
  });
});

describe('HTTP surface', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' } });
  });

  afterAll(() => stopTestApp(t));

  it('sends security headers', async () => {
    const res = await t.anon.get('/health').expect(200);
    expect(res.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'strict-transport-security': expect.stringContaining('max-age='),
      'content-security-policy': expect.stringContaining("default-src 'self'"),
    });
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it("lets no cache keep a tenant's data, and answers a conditional request in full", async () => {
    const { tenantId, token } = await t.signUp('Cache Farm');
    const list = () =>
      t.anon.get('/api/users').set('X-Tenant-ID', tenantId).set('Authorization', `Bearer ${token}`);
    const first = await list().expect(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.headers.etag).toBeUndefined();
    const again = await list().set('If-None-Match', '*').expect(200);
    expect(again.body).toEqual(first.body);
  });

  it('serves Swagger UI within the content security policy, with both bearer schemes to authorize', async () => {
    const page = await t.anon.get('/docs').expect(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    const scripts = page.text.match(/<script[^>]*>/g) ?? [];
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) expect(script).toMatch(/ src="\.\/docs\/[\w.-]+\.js"/);
    // Its files are cacheable, and answer a conditional request with a 304.
    const bundle = await t.anon.get('/docs/swagger-ui-bundle.js').expect(200);
    expect(bundle.headers['cache-control']).not.toMatch(/no-store/);
    await t.anon.get('/docs/swagger-ui-bundle.js').set('If-None-Match', bundle.headers.etag).expect(304);
    const init = await t.anon.get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toMatch(/"tenantUser"/);
    expect(init.text).toMatch(/"platformAdmin"/);
    // Tokens are not kept in the browser's localStorage.
    expect(init.text).not.toMatch(/persistAuthorization/);
  });

  it('allows CORS only from CORS_ORIGINS, with the headers the API uses', async () => {
    const preflight = await t.anon
      .options('/api/crops')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type,x-tenant-id');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization.*X-Tenant-ID/);
    const foreign = await t.anon.get('/health').set('Origin', 'https://evil.example');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const allowed = await t.anon.get('/health').set('Origin', 'https://admin.example.com');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://admin.example.com');
    expect(allowed.headers['access-control-expose-headers']).toMatch(/X-Request-Id/);
    expect(allowed.headers['access-control-expose-headers']).toMatch(/Location/);
  });

  it('echoes an acceptable X-Request-Id and generates one otherwise', async () => {
    const echoed = await t.anon.get('/health').set('X-Request-Id', 'abc-123.trace:7');
    expect(echoed.headers['x-request-id']).toBe('abc-123.trace:7');
    const generated = await t.anon.get('/health');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const forged = await t.anon.get('/health').set('X-Request-Id', 'x'.repeat(200));
    expect(forged.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses JSON bodies above 100 kB with a 413 JSON error', async () => {
    const res = await t.http
      .post('/organizations')
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify({
          name: 'Big',
          farmType: 'dairy',
          logoUrl: `https://x.example/${'a'.repeat(110_000)}`,
        }),
      );
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE' });
  });
});
