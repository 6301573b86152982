import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { DatabaseServer } from '../src/database/database-server';
import { TenantConnectionRegistry, TenantLease } from '../src/tenancy/tenant-connection-registry';
import { TenantRoute } from '../src/tenancy/api-tenant.decorator';
import { TenantRecord, TenantRegistry } from '../src/tenancy/tenant-registry';
import type { TenantPayload } from '../src/tenancy/tenant-context-id.strategy';
import { InjectTenant } from '../src/tenancy/tenant-entity-manager';
import { connectTo, countConnections, serverEnv, withLimitedRole } from './support/test-database';
import {
  cloneTemplate,
  movedRecord,
  moveTenant,
  startTestApp,
  stopTestApp,
  TestApp,
  watchMigrationChecks,
  withMaintenanceClient,
} from './support/test-app';
import { until } from './support/until';

/** The database a lease's ORM queries. */
function database(lease: TenantLease): Promise<{ db: string }[]> {
  return lease.orm.em.getConnection().execute<{ db: string }[]>('SELECT current_database() AS db');
}

/** Reports which instance served the request: one per tenant subtree when durable, one per request otherwise. */
@TenantRoute()
@Controller('api/probe')
class InstanceProbeController {
  private readonly instanceId = randomUUID();

  constructor(@InjectTenant() private readonly tenant: TenantPayload) {}

  @Get('instance')
  @ApiOkResponse({
    description: 'The instance that served the request and its tenant',
    schema: {
      type: 'object',
      required: ['instanceId', 'tenantId'],
      properties: { instanceId: { type: 'string', format: 'uuid' }, tenantId: { type: 'string' } },
    },
  })
  instance(): { instanceId: string; tenantId: string } {
    return { instanceId: this.instanceId, tenantId: this.tenant.tenantId };
  }
}

/** The id of the InstanceProbeController instance that served a request of the tenant. */
async function probeInstance(t: TestApp, tenantId: string): Promise<string> {
  const res = await t.http.get('/api/probe/instance').set('X-Tenant-ID', tenantId).expect(200);
  expect(res.body.tenantId).toBe(tenantId);
  return res.body.instanceId as string;
}

/** Runs `work` over `items` with at most `limit` at once. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]);
      }
    }),
  );
  return results;
}

/** Samples the connections to this app's databases every 25 ms while `work` runs; returns the highest. */
async function peakConnections(prefix: string, work: () => Promise<void>): Promise<number> {
  return withMaintenanceClient(async (client) => {
    let peak = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        peak = Math.max(peak, await countConnections(client, prefix));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    try {
      await work();
    } finally {
      running = false;
      await sampler;
    }
    return peak;
  });
}

describe('tenant connection registry', () => {
  describe('with 300 tenants and room for 10 open at once', () => {
    let t: TestApp;
    const tenants = Array.from({ length: 300 }, (_, i) => `Farm ${String(i).padStart(3, '0')}`);

    beforeAll(async () => {
      t = await startTestApp({
        env: {
          TENANT_MAX_OPEN: '10',
          TENANT_POOL_MAX: '2',
          CONTROL_POOL_MAX: '3',
          TENANT_POOL_IDLE_MS: '60000',
        },
        controllers: [InstanceProbeController],
      });
      await pool(tenants, 4, (name) => t.signUp(name));
    }, 300_000);

    afterAll(() => stopTestApp(t), 120_000);

    it('serves traffic across 300 tenants without errors and within the connection ceiling', async () => {
      const ceiling = t.config.connectionCeiling;
      expect(ceiling).toBe(3 + 1 + 2 * 2 + 10 * 2);
      const statuses: number[] = [];
      const peak = await peakConnections(t.prefix, async () => {
        const requests = [...tenants, ...tenants].map((name, i) => ({
          tenantId: name.toLowerCase().replace(' ', '-'),
          i,
        }));
        await pool(requests, 20, async ({ tenantId, i }) => {
          const res =
            i % 2 === 0
              ? await t.http
                  .post('/api/crops')
                  .set('X-Tenant-ID', tenantId)
                  .send({ name: `Crop ${i}`, plantingDate: '2025-04-01' })
              : await t.http.get('/api/crops').set('X-Tenant-ID', tenantId);
          statuses.push(res.status);
        });
      });
      expect(statuses.filter((s) => s >= 400)).toEqual([]);
      expect(statuses).toHaveLength(600);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(ceiling);
      const stats = t.app.get(TenantConnectionRegistry).stats();
      expect(stats.open).toBeLessThanOrEqual(10);
      expect(stats.evictions).toBeGreaterThan(0);
      expect(stats.opens).toBeGreaterThanOrEqual(300);
    }, 300_000);

    it('opens a tenant once when its first requests arrive together', async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      await registry.evict('farm-007');
      const opensBefore = registry.stats().opens;
      const responses = await Promise.all(
        Array.from({ length: 12 }, () => t.http.get('/api/crops').set('X-Tenant-ID', 'farm-007')),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(12).fill(200));
      expect(registry.stats().opens).toBe(opensBefore + 1);
    });

    it('builds the DI subtree once per open tenant, not once per request', async () => {
      const instance = (tenantId: string) => probeInstance(t, tenantId);
      const first = await instance('farm-001');
      expect(await instance('farm-001')).toBe(first);
      expect(await instance('farm-002')).not.toBe(first);
      await t.app.get(TenantConnectionRegistry).evict('farm-001');
      expect(await instance('farm-001')).not.toBe(first);
    });

    it('takes the slot of the idle tenant with the fewest recent requests, the least recently used among equals', async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const hit = (tenantId: string) => t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);
      // farm-100 is the least recently used of the ten open tenants, but the most requested.
      for (let i = 0; i < 8; i++) await hit('farm-100');
      for (let i = 101; i < 110; i++) await hit(`farm-${i}`);
      await hit('farm-110');
      expect(registry.isOpen('farm-100')).toBe(true);
      expect(registry.isOpen('farm-101')).toBe(false);
      expect(registry.isOpen('farm-110')).toBe(true);
      await hit('farm-111');
      expect(registry.isOpen('farm-100')).toBe(true);
      expect(registry.isOpen('farm-102')).toBe(false);
    });

    it('keeps the ORM and DI subtree of a tenant that gave its slot up, without connections, and reuses them', async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const instance = (tenantId: string) => probeInstance(t, tenantId);
      const database = `${t.prefix}farm-150`;
      const connections = () => withMaintenanceClient((c) => countConnections(c, database));
      const first = await instance('farm-150');
      await t.http.get('/api/crops').set('X-Tenant-ID', 'farm-150').expect(200);
      expect(await connections()).toBeGreaterThan(0);
      // More requests each than farm-150 has had, so it is the one to give its slot up.
      for (let i = 151; i < 162; i++) for (let n = 0; n < 3; n++) await instance(`farm-${i}`);
      expect(registry.isOpen('farm-150')).toBe(false);
      expect(registry.isKept('farm-150')).toBe(true);
      // Its pool was destroyed when it gave the slot up, long before the pool's own idle timeout (60 s); the server
      // may list the backend for a moment after the client hung up.
      const deadline = Date.now() + 2000;
      while ((await connections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await connections()).toBe(0);
      const reopens = registry.stats().reopens;
      expect(await instance('farm-150')).toBe(first);
      expect(registry.stats().reopens).toBe(reopens + 1);
      const res = await t.http.get('/api/crops').set('X-Tenant-ID', 'farm-150').expect(200);
      // The first test sent farm-150 two POSTs (its requests 150 and 450).
      expect(res.body.map((crop: { name: string }) => crop.name).sort()).toEqual(['Crop 150', 'Crop 450']);
    });

    it('lets a request holding a replaced ORM finish on it, then closes it, not its successor', async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const record = (await t.app.get(TenantRegistry).find('farm-200'))!;
      const held = await registry.acquire(record);
      const moved = movedRecord(record, `${t.prefix}farm-201`);
      const successor = await registry.acquire(moved);
      successor.release();
      expect(successor.orm).not.toBe(held.orm);
      expect(await database(held)).toEqual([{ db: `${t.prefix}farm-200` }]);
      expect(await database(successor)).toEqual([{ db: `${t.prefix}farm-201` }]);
      held.release();
      const connections = () => withMaintenanceClient((c) => countConnections(c, `${t.prefix}farm-200`));
      await until(async () => (await connections()) === 0);
      expect(await connections()).toBe(0);
      const opens = registry.stats().opens;
      const again = await registry.acquire(moved);
      again.release();
      expect(again.orm).toBe(successor.orm);
      expect(registry.stats().opens).toBe(opens);
    });

    it("does not hand a request the opening of its tenant's previous record", async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const record = (await t.app.get(TenantRegistry).find('farm-210'))!;
      const moved = movedRecord(record, `${t.prefix}farm-211`);
      await registry.evict('farm-210');
      // The second joins the opening the first started.
      const leases = await Promise.all([registry.acquire(record), registry.acquire(moved)]);
      const databases = await Promise.all(leases.map(database));
      leases.forEach((lease) => lease.release());
      expect(databases).toEqual([[{ db: `${t.prefix}farm-210` }], [{ db: `${t.prefix}farm-211` }]]);
    });

    it("opens a request's own record when the opening it joined, of the tenant's previous record, fails", async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const record = (await t.app.get(TenantRegistry).find('farm-240'))!;
      await registry.evict('farm-240');
      // Read before an operator restored the lost database elsewhere (a lookup under way), then after.
      const lost = movedRecord(record, `${t.prefix}no-such-database`);
      const restored = movedRecord(record, `${t.prefix}farm-241`);
      // The second joins the opening the first started, which fails.
      const [first, second] = await Promise.allSettled([registry.acquire(lost), registry.acquire(restored)]);
      expect(first).toMatchObject({ status: 'rejected', reason: { code: 'TENANT_UNAVAILABLE' } });
      expect(second.status).toBe('fulfilled');
      const lease = (second as PromiseFulfilledResult<TenantLease>).value;
      const served = await database(lease);
      lease.release();
      expect(served).toEqual([{ db: `${t.prefix}farm-241` }]);
    });

    it('refuses a request with the record from before a move while the moved database fails to open', async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const record = (await t.app.get(TenantRegistry).find('farm-230'))!;
      (await registry.acquire(record)).release();
      const moved = movedRecord(record, `${t.prefix}no-such-database`);
      await expect(registry.acquire(moved)).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
      const { refused, opens } = registry.stats();
      // Not the database the tenant moved away from: refused while the moved one's failure is.
      await expect(registry.acquire(record)).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
      expect(registry.stats()).toMatchObject({ refused: refused + 1, opens });
    });

    it("serves a request holding a record older than its ORM's from that ORM, without replacing it", async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const record = (await t.app.get(TenantRegistry).find('farm-220'))!;
      const moved = movedRecord(record, `${t.prefix}farm-221`);
      const current = await registry.acquire(moved);
      current.release();
      const { replaced } = registry.stats();
      // Read before the move, e.g. by a lookup under way when it was made: the moved ORM is the tenant's now.
      const stale = await registry.acquire(record);
      stale.release();
      expect(stale.orm).toBe(current.orm);
      expect(stale.record).toBe(moved);
      expect(await database(stale)).toEqual([{ db: `${t.prefix}farm-221` }]);
      expect(registry.stats().replaced).toBe(replaced);
    });
  });

  describe('with TENANT_MAX_KEPT=1', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({
        env: { TENANT_MAX_OPEN: '1', TENANT_MAX_KEPT: '1' },
        controllers: [InstanceProbeController],
      });
      for (const name of ['Kept One', 'Kept Two', 'Kept Three']) await t.signUp(name);
    }, 120_000);

    afterAll(() => stopTestApp(t), 120_000);

    it('closes the least recently used kept ORM beyond the limit, so its next opening builds a new subtree', async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const instance = (tenantId: string) => probeInstance(t, tenantId);
      const one = await instance('kept-one');
      const two = await instance('kept-two');
      expect(registry.stats()).toMatchObject({ open: 1, kept: 1 });
      expect(await instance('kept-one')).toBe(one);
      await instance('kept-three');
      expect(registry.isKept('kept-two')).toBe(false);
      expect(registry.stats()).toMatchObject({ open: 1, kept: 1 });
      expect(registry.stats().dropped).toBeGreaterThanOrEqual(1);
      expect(await instance('kept-two')).not.toBe(two);
    });

    it("checks the migrations of a database a dropped ORM's tenant is moved to", async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      await t.http.get('/api/crops').set('X-Tenant-ID', 'kept-one').expect(200);
      await t.http.get('/api/crops').set('X-Tenant-ID', 'kept-two').expect(200);
      await t.http.get('/api/crops').set('X-Tenant-ID', 'kept-three').expect(200);
      expect(registry.isKept('kept-one')).toBe(false);
      // Restored elsewhere (from a backup, which might be older than the latest tenant migration).
      const restored = `${t.prefix}kept-one-restored`;
      await cloneTemplate(t, restored);
      await moveTenant(t, 'kept-one', restored);
      const checks = watchMigrationChecks('kept-one');
      try {
        await t.http.get('/api/crops').set('X-Tenant-ID', 'kept-one').expect(200);
        expect(checks.count()).toBe(1);
      } finally {
        checks.restore();
      }
    });
  });

  describe('a tenant pool of TENANT_POOL_MAX=2', () => {
    let t: TestApp;
    let tenantId: string;
    /** The app's connections to the tenant's database, told by their application_name. */
    const appConnections = () =>
      withMaintenanceClient(async (client) => {
        const { rows } = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
          [`${t.prefix}${tenantId}`, `farm-management:tenant:${tenantId}`],
        );
        return rows[0].n;
      });

    beforeAll(async () => {
      t = await startTestApp({ env: { TENANT_POOL_MAX: '2', TENANT_POOL_IDLE_MS: '60000' } });
      ({ tenantId } = await t.signUp('Pool Farm'));
    }, 120_000);

    afterAll(() => stopTestApp(t), 120_000);

    it('uses one connection while its tenant has one request at a time, also for a page and its count', async () => {
      await t.app.get(TenantConnectionRegistry).evict(tenantId);
      for (let i = 0; i < 5; i++) await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);
      expect(await appConnections()).toBe(1);
    });

    it('opens a second connection while two of its requests are in flight', async () => {
      const holder = await connectTo(`${t.prefix}${tenantId}`);
      let statuses: Promise<number[]> | undefined;
      try {
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE crops IN ACCESS EXCLUSIVE MODE');
        statuses = Promise.all(
          [1, 2].map(() =>
            Promise.resolve(t.http.get('/api/crops').set('X-Tenant-ID', tenantId)).then((res) => res.status),
          ),
        );
        await until(async () => (await appConnections()) >= 2);
        expect(await appConnections()).toBe(2);
        await holder.query('COMMIT');
        expect(await statuses).toEqual([200, 200]);
      } finally {
        await holder.end();
        await statuses?.catch(() => undefined);
      }
    });
  });

  describe('with every open tenant busy', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({ env: { TENANT_MAX_OPEN: '1', TENANT_SLOT_WAIT_MS: '1500' } });
      for (const name of ['Busy One', 'Busy Two', 'Busy Three']) await t.signUp(name);
    }, 120_000);

    afterAll(() => stopTestApp(t), 120_000);

    it('answers 503 TENANT_CAPACITY after TENANT_SLOT_WAIT_MS, and the next waiter gets the freed slot at once', async () => {
      const registry = t.app.get(TenantConnectionRegistry);
      const record = async (tenantId: string): Promise<TenantRecord> => {
        const found = await t.app.get(TenantRegistry).find(tenantId);
        if (!found) throw new Error(`${tenantId} is not registered`);
        return found;
      };
      const busy = await registry.acquire(await record('busy-one'));
      const started = Date.now();
      const refused = await t.http.get('/api/crops').set('X-Tenant-ID', 'busy-two').expect(503);
      // After TENANT_SLOT_WAIT_MS, not the 10 s default.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(refused.body).toMatchObject({ statusCode: 503, code: 'TENANT_CAPACITY' });
      expect(registry.isOpen('busy-two')).toBe(false);
      // The waiter that gave up must not take the wake-up meant for this one (it would then wait its 1.5 s out).
      const waiting = registry.acquire(await record('busy-three'));
      await new Promise((r) => setTimeout(r, 100));
      const freed = Date.now();
      busy.release();
      const lease = await waiting;
      // Well below the 1.5 s wait it would otherwise sit out, with room for a loaded machine.
      expect(Date.now() - freed).toBeLessThan(1_200);
      expect(lease.tenantId).toBe('busy-three');
      lease.release();
    });
  });

  describe('idle close and shutdown', () => {
    let t: TestApp | undefined;

    afterEach(() => stopTestApp(t));

    it('closes a tenant unused for TENANT_IDLE_CLOSE_MS, and its connections with it', async () => {
      t = await startTestApp({ env: { TENANT_IDLE_CLOSE_MS: '300' } });
      const { tenantId } = await t.signUp('Idle Farm');
      await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);
      const registry = t.app.get(TenantConnectionRegistry);
      expect(registry.isOpen(tenantId)).toBe(true);
      await until(() => !registry.isOpen(tenantId), 5_000);
      expect(registry.isOpen(tenantId)).toBe(false);
      expect(registry.stats().idleCloses).toBeGreaterThanOrEqual(1);
      // The pool's destruction ends after the slot is given up, and the server may list the backend a moment after.
      const database = `${t.prefix}${tenantId}`;
      const connections = () => withMaintenanceClient((c) => countConnections(c, database));
      await until(async () => (await connections()) === 0, 2_000);
      expect(await connections()).toBe(0);
    });

    it('releases the tenant of a request whose client went away while its tenant was being opened', async () => {
      t = await startTestApp({ env: { TENANT_MAX_OPEN: '1' } });
      const app = t;
      const alpha = (await app.signUp('Gone Alpha')).tenantId;
      const beta = (await app.signUp('Gone Beta')).tenantId;
      await app.app.listen(0, '127.0.0.1');
      const { port } = app.app.getHttpServer().address() as { port: number };
      const registry = app.app.get(TenantConnectionRegistry);
      await registry.evict(alpha);
      await registry.evict(beta);
      // The one slot held by a request of beta's: alpha's opening waits for it.
      const held = await registry.acquire((await app.app.get(TenantRegistry).find(beta))!);
      const acquire = jest.spyOn(registry, 'acquire');
      try {
        const opens = registry.stats().opens;
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(
            `GET /api/crops HTTP/1.1\r\nHost: localhost\r\nX-Tenant-ID: ${alpha}\r\n` +
              `Authorization: Bearer ${app.platformToken}\r\n\r\n`,
          ),
        );
        const alphaWaits = () => acquire.mock.calls.some(([record]) => record.tenantId === alpha);
        await until(alphaWaits);
        expect(alphaWaits()).toBe(true);
        socket.destroy();
        held.release();
        await until(() => registry.isOpen(alpha));
        expect(registry.stats().opens).toBe(opens + 1);
      } finally {
        acquire.mockRestore();
        held.release();
      }
      const started = Date.now();
      await app.http.get('/api/crops').set('X-Tenant-ID', beta).expect(200);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('closes every connection on shutdown', async () => {
      const app = await startTestApp();
      t = app;
      const names = ['Shut A', 'Shut B', 'Shut C'];
      for (const name of names) await app.signUp(name);
      await Promise.all(
        names.map((name) =>
          app.http.get('/api/crops').set('X-Tenant-ID', name.toLowerCase().replace(' ', '-')).expect(200),
        ),
      );
      expect(await withMaintenanceClient((c) => countConnections(c, app.prefix))).toBeGreaterThan(0);
      await app.app.close();
      t = { ...app, close: () => Promise.resolve() };
      const deadline = Date.now() + 2000;
      let open = Infinity;
      while (open > 0 && Date.now() < deadline) {
        open = await withMaintenanceClient((c) => countConnections(c, app.prefix));
        if (open > 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(open).toBe(0);
    });
  });

  it("refuses to start with pools the server's max_connections cannot hold", async () => {
    const [{ max }] = await withMaintenanceClient(
      async (c) =>
        (await c.query<{ max: number }>("SELECT current_setting('max_connections')::int AS max")).rows,
    );
    // One tenant connection more than the server has room for, beside 3 control, the listener's 1 and 2 x 2
    // maintenance connections (the test server's role is a superuser: no reserved slots to subtract).
    const env = {
      TENANT_MAX_OPEN: String(max - 7),
      TENANT_POOL_MAX: '1',
      DB_CONNECTION_BUDGET: String(max + 1),
    };
    const started = startTestApp({ env });
    await expect(started).rejects.toThrow(
      new RegExp(
        `^This process may open ${max + 1} connections \\(TENANT_MAX_OPEN x .*\\), more than the server lets ` +
          `\\w+ open \\(${max}: max_connections less the reserved ones, or the role's connection ` +
          'limit\\); lower TENANT_MAX_OPEN$',
      ),
    );
    await started.then(
      (app) => stopTestApp(app),
      () => undefined,
    );
  });

  it("refuses to start when its role's CONNECTION LIMIT cannot hold the pools", () =>
    withLimitedRole(20, async (role) => {
      // 13 tenant connections + 3 control + the listener's 1 + 2 x 2 maintenance: 21, one more than the role may open.
      const started = startTestApp({ env: { DB_USER: role, TENANT_MAX_OPEN: '13', TENANT_POOL_MAX: '1' } });
      await expect(started).rejects.toThrow(
        new RegExp(
          `^This process may open 21 connections \\(.*\\), more than the server lets ${role} open \\(20: `,
        ),
      );
      await started.then(
        (app) => stopTestApp(app),
        () => undefined,
      );
    }));

  // Linux's /proc/net/tcp shows whether a socket's keepalive timer is armed (its `tr` column is 2 while idle). The
  // test server is reached over 127.0.0.1 when it runs on this machine (its socket, or a loopback host).
  const host = serverEnv().DB_HOST;
  const onThisMachine = ['', '127.0.0.1', 'localhost'].includes(host) || host.startsWith('/');
  const itOnLinux = existsSync('/proc/net/tcp') && onThisMachine ? it : it.skip;
  itOnLinux(
    'connects over TCP with keepalive: tenant pools, the control pool, maintenance sessions',
    async () => {
      const t = await startTestApp({ env: { DB_HOST: '127.0.0.1' } });
      try {
        const { tenantId } = await t.signUp('Keepalive Farm');
        await t.http.get('/api/users').set('X-Tenant-ID', tenantId).expect(200);
        const portsOf = async (database: string, applicationName: string) =>
          (
            await withMaintenanceClient((c) =>
              c.query<{ port: number }>(
                `SELECT client_port AS port FROM pg_stat_activity
                  WHERE datname = $1 AND application_name = $2 AND client_port > 0`,
                [database, applicationName],
              ),
            )
          ).rows.map((row) => row.port);
        const hex = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
        // The app's end of a connection: its port locally, the server's remotely; timer 02 while idle.
        const armedNow = (port: number): boolean =>
          readFileSync('/proc/net/tcp', 'utf8')
            .split('\n')
            .slice(1)
            .map((line) => line.trim().split(/\s+/))
            .some(
              ([, local, remote, , , timer]) =>
                local?.endsWith(hex(port)) &&
                remote?.endsWith(hex(t.config.DB_PORT)) &&
                timer?.startsWith('02:'),
            );
        // A connection with a query in flight shows the retransmission timer instead: read again for a while.
        const armed = async (port: number) => {
          await until(() => armedNow(port), 2_000);
          return armedNow(port);
        };
        const tenant = await portsOf(`${t.prefix}${tenantId}`, `farm-management:tenant:${tenantId}`);
        const control = await portsOf(t.config.DB_NAME, 'farm-management:control');
        expect(tenant.length).toBeGreaterThan(0);
        expect(control.length).toBeGreaterThan(0);
        for (const port of [...tenant, ...control]) {
          expect({ port, armed: await armed(port) }).toEqual({ port, armed: true });
        }
        const maintenance = await t.app.get(DatabaseServer).withAdminClient(async (client) => {
          const { rows } = await client.query<{ port: number }>('SELECT inet_client_port() AS port');
          return { port: rows[0].port, armed: await armed(rows[0].port) };
        });
        expect(maintenance).toEqual({ port: maintenance.port, armed: true });
      } finally {
        await stopTestApp(t);
      }
    },
  );
});
