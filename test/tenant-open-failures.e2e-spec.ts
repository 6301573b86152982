import type { Client } from 'pg';
import { TENANT_MIGRATIONS } from '../migrations/tenant';
import { isServerUnavailable } from '../src/common/error-text';
import { advisoryLock, lockKey } from '../src/database/advisory-lock';
import { DatabaseServer } from '../src/database/database-server';
import * as migrations from '../src/database/migrate-to-latest';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { TenantRegistry } from '../src/tenancy/tenant-registry';
import {
  cloneTemplate,
  logIn,
  moveTenant,
  OWNER_PASSWORD,
  sqlIn,
  startTestApp,
  stopTestApp,
  TestApp,
  withMaintenanceClient,
} from './support/test-app';
import { settledLockWaiters } from './support/test-database';
import { until } from './support/until';

const LATEST = TENANT_MIGRATIONS[TENANT_MIGRATIONS.length - 1].name;

describe('a tenant whose opening fails', () => {
  let t: TestApp;
  let registry: TenantConnectionRegistry;

  beforeAll(async () => {
    t = await startTestApp({
      env: { TENANT_MAX_OPEN: '1', TENANT_SPARE_POOL: '0', TENANT_SLOT_WAIT_MS: '2000' },
    });
    await t.signUp('Steady Farm');
    await t.signUp('Broken Farm');
    registry = t.app.get(TenantConnectionRegistry);
  });

  afterAll(() => stopTestApp(t));

  afterEach(() => jest.restoreAllMocks());

  const crops = (tenantId: string) => t.http.get('/api/crops').set('X-Tenant-ID', tenantId);
  const brokenDatabase = () => `${t.prefix}broken-farm`;
  /** Its latest migration's record, without undoing the migration: running it again fails (what it dropped is gone). */
  const forgetLatestMigration = () =>
    sqlIn(brokenDatabase(), 'DELETE FROM mikro_orm_migrations WHERE name = $1', [LATEST]);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('is refused with Retry-After, without a slot or another attempt, until a wait doubling per failure', async () => {
    await forgetLatestMigration();
    await registry.evict('broken-farm');
    await crops('steady-farm').expect(200);
    const attempts = jest.spyOn(migrations, 'migrateToLatest');

    // Requests that arrive together share the one attempt, and its answer: the attempt's migration waits here until
    // all three have asked for the tenant (within TENANT_SLOT_WAIT_MS, after which it would give up instead).
    const asked = jest.spyOn(registry, 'acquire');
    const key = lockKey(`migrate:${brokenDatabase()}`);
    const sent = await withMaintenanceClient(async (holder) => {
      await advisoryLock(holder, key);
      const requests = [1, 2, 3].map(() => crops('broken-farm').then((res) => res));
      const askedFor = () => asked.mock.calls.filter(([record]) => record.tenantId === 'broken-farm').length;
      await until(() => askedFor() === 3);
      expect(askedFor()).toBe(3);
      expect(await settledLockWaiters(holder, [key], 1)).toBe(1);
      return requests;
    });
    const first = await Promise.all(sent);
    asked.mockRestore();
    for (const res of first) {
      expect({ status: res.status, code: res.body.code, retryAfter: res.headers['retry-after'] }).toEqual({
        status: 503,
        code: 'TENANT_UNAVAILABLE',
        retryAfter: '1',
      });
    }
    expect(first[0].body.message).toBe(
      'Tenant broken-farm is temporarily unavailable: its database could not be opened; retry in 1 s',
    );
    expect(attempts).toHaveBeenCalledTimes(1);
    const before = registry.stats();
    expect(before).toMatchObject({ failedOpenings: 1, refused: 0 });

    for (let i = 0; i < 3; i++) {
      const refused = await crops('broken-farm').expect(503);
      expect({ code: refused.body.code, retryAfter: refused.headers['retry-after'] }).toEqual({
        code: 'TENANT_UNAVAILABLE',
        retryAfter: '1',
      });
    }
    expect(attempts).toHaveBeenCalledTimes(1);
    expect(registry.stats()).toMatchObject({
      opens: before.opens,
      evictions: before.evictions,
      failedOpenings: 1,
      refused: 3,
    });
    // The attempt took the only slot from steady-farm; the refusals took none.
    await crops('steady-farm').expect(200);

    await sleep(1_000);
    const second = await crops('broken-farm').expect(503);
    expect(second.headers['retry-after']).toBe('2');
    expect(attempts).toHaveBeenCalledTimes(2);
    expect(registry.stats().failedOpenings).toBe(2);

    // Repaired: the next attempt, once the wait is over, opens it.
    await sqlIn(brokenDatabase(), 'INSERT INTO mikro_orm_migrations (name) VALUES ($1)', [LATEST]);
    expect((await crops('broken-farm').expect(503)).headers['retry-after']).toMatch(/^[12]$/);
    await sleep(2_000);
    await crops('broken-farm').expect(200);
    expect(attempts).toHaveBeenCalledTimes(3);
    expect(registry.stats().failedOpenings).toBe(2);
  });

  it("gives up after TENANT_SLOT_WAIT_MS while another session holds the tenant's migration lock", async () => {
    await forgetLatestMigration();
    await registry.evict('broken-farm');
    const { failedOpenings } = registry.stats();
    await withMaintenanceClient(async (holder) => {
      await advisoryLock(holder, lockKey(`migrate:${brokenDatabase()}`));
      const started = Date.now();
      const res = await crops('broken-farm');
      expect({ status: res.status, code: res.body.code, retryAfter: res.headers['retry-after'] }).toEqual({
        status: 503,
        code: 'TENANT_UNAVAILABLE',
        retryAfter: undefined,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      expect(Date.now() - started).toBeLessThan(6_000);
      // Another session migrating the tenant says nothing wrong of it: not counted, not refused meanwhile.
      expect(registry.stats().failedOpenings).toBe(failedOpenings);
      await crops('steady-farm').expect(200);
    });
    // Released: the next request tries at once, and its migration fails as before (the table exists).
    const failed = await crops('broken-farm').expect(503);
    expect(failed.headers['retry-after']).toBe('1');
    expect(registry.stats().failedOpenings).toBe(failedOpenings + 1);
    await sqlIn(brokenDatabase(), 'INSERT INTO mikro_orm_migrations (name) VALUES ($1)', [LATEST]);
    await sleep(1_000);
    await crops('broken-farm').expect(200);
  });

  it('answers 503 when the server ends the maintenance session of its opening, and the app lives on', async () => {
    await forgetLatestMigration();
    await registry.evict('broken-farm');
    await withMaintenanceClient(async (holder) => {
      await advisoryLock(holder, lockKey(`migrate:${brokenDatabase()}`));
      const pending = crops('broken-farm').then((res) => res);
      // The opening's maintenance session waits for the lock; the server ends it (as a restart or an operator would).
      const waiting = async () =>
        (
          await holder.query<{ pid: number }>(
            'SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))',
          )
        ).rows;
      let sessions: { pid: number }[] = [];
      await until(async () => (sessions = await waiting()).length > 0);
      expect(sessions).toHaveLength(1);
      await holder.query('SELECT pg_terminate_backend($1)', [sessions[0].pid]);
      const res = await pending;
      expect({ status: res.status, code: res.body.code }).toEqual({
        status: 503,
        code: 'TENANT_UNAVAILABLE',
      });
    });
    await crops('steady-farm').expect(200);
    // A failure of the server, not of the tenant: no back-off.
    await sqlIn(brokenDatabase(), 'INSERT INTO mikro_orm_migrations (name) VALUES ($1)', [LATEST]);
    await crops('broken-farm').expect(200);
  });

  describe('a maintenance session the server ended between two queries', () => {
    /** Ends the session `work` runs in, waits until its client has noticed, then goes on with `next`. */
    const afterLoss = (next: (client: Client) => Promise<unknown>) =>
      t.app
        .get(DatabaseServer)
        .withAdminClient(async (client) => {
          const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          const ended = new Promise((resolve) => client.once('end', resolve));
          await withMaintenanceClient((other) =>
            other.query('SELECT pg_terminate_backend($1)', [rows[0].pid]),
          );
          await ended;
          await next(client);
        })
        .then(
          () => undefined,
          (error: unknown) => error as Error & { code?: string },
        );

    it('fails the next query as a failure of the server', async () => {
      const failed = await afterLoss((client) => client.query('SELECT 1'));
      expect(failed).toBeInstanceOf(Error);
      expect(isServerUnavailable(failed)).toBe(true);
      expect(failed?.message).toMatch(/^The maintenance session was lost: /);
    });

    it("keeps the work's own failure", async () => {
      const own = Object.assign(new Error('relation "crops" already exists'), { code: '42P07' });
      const failed = await afterLoss(() => Promise.reject(own));
      expect(failed).toBe(own);
    });
  });

  it('is refused after its database is gone until its record names another, without trying meanwhile', async () => {
    const restored = `${t.prefix}restored-farm`;
    await cloneTemplate(t, restored);
    await registry.evict('broken-farm');
    await withMaintenanceClient((c) => c.query(`DROP DATABASE "${brokenDatabase()}" WITH (FORCE)`));
    await crops('steady-farm').expect(200);
    const lost = (await t.app.get(TenantRegistry).find('broken-farm'))!;
    const { failedOpenings, refused } = registry.stats();

    const first = await crops('broken-farm').expect(503);
    expect({ code: first.body.code, retryAfter: first.headers['retry-after'] }).toEqual({
      code: 'TENANT_UNAVAILABLE',
      retryAfter: '1',
    });
    const { opens } = registry.stats();
    await crops('broken-farm').expect(503);
    expect(registry.stats()).toMatchObject({
      opens,
      failedOpenings: failedOpenings + 1,
      refused: refused + 1,
    });
    await crops('steady-farm').expect(200);
    // Restored elsewhere by an operator, within the wait of 1 s (the record read before the failure is still
    // refused, without an attempt): tried at once.
    await moveTenant(t, 'broken-farm', restored);
    await expect(registry.acquire(lost)).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
    await crops('broken-farm').expect(200);
    expect(registry.stats()).toMatchObject({ failedOpenings: failedOpenings + 1, refused: refused + 2 });
  });

  it('is opened at once for a repeated sign-up, although its first attempt failed to open it', async () => {
    // The registry's opening for the owner fails three times (not provisioning's migration check, which runs first).
    const migrateToLatest = migrations.migrateToLatest;
    let failures = 0;
    jest.spyOn(migrations, 'migrateToLatest').mockImplementation((orm, ...rest) => {
      if (orm.config.get('contextName') !== 'tenant:retry-farm' || failures++ >= 3) {
        return migrateToLatest(orm, ...rest);
      }
      return Promise.reject(new Error('the server refused (injected)'));
    });
    const owner = {
      firstName: 'Owner',
      lastName: 'Retry',
      email: 'owner@retry.example',
      password: OWNER_PASSWORD,
    };
    const signUp = () =>
      t.http.post('/organizations').send({ name: 'Retry Farm', farmType: 'vegetable', owner });
    const { failedOpenings } = registry.stats();

    // Each repeated sign-up opens the tenant at once, within the wait its failures set (1 s, 2 s, then 4 s, so a
    // slow machine cannot let a repetition through by outwaiting one): tried each time, the fourth succeeds.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const failed = await signUp().expect(503);
      expect({ attempt, code: failed.body.code, failures }).toEqual({
        attempt,
        code: 'PROVISIONING_FAILED',
        failures: attempt,
      });
    }
    expect(registry.stats().failedOpenings).toBe(failedOpenings + 3);
    await signUp().expect(201);
    const token = await logIn(t.anon, 'retry-farm', owner.email, OWNER_PASSWORD);
    await crops('retry-farm').set('Authorization', `Bearer ${token}`).expect(200);
  });

  it('is tried again at once after a failure of the server, which says nothing about the tenant', async () => {
    // The registry's next opening of steady-farm meets a server starting up (57P03), once.
    const migrateToLatest = migrations.migrateToLatest;
    let failures = 0;
    const attempts = jest.spyOn(migrations, 'migrateToLatest').mockImplementation((orm, ...rest) => {
      if (orm.config.get('contextName') !== 'tenant:steady-farm' || failures++ > 0) {
        return migrateToLatest(orm, ...rest);
      }
      const starting = Object.assign(new Error('the database system is starting up (injected)'), {
        code: '57P03',
      });
      return Promise.reject(starting);
    });
    await registry.evict('steady-farm');
    const { failedOpenings, refused } = registry.stats();

    const first = await crops('steady-farm').expect(503);
    expect({ code: first.body.code, retryAfter: first.headers['retry-after'] }).toEqual({
      code: 'TENANT_UNAVAILABLE',
      retryAfter: undefined,
    });
    await crops('steady-farm').expect(200);
    expect(attempts).toHaveBeenCalledTimes(2);
    expect(registry.stats()).toMatchObject({ failedOpenings, refused });
  });
});
