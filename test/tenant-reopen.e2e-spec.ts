import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import * as migrations from '../src/database/migrate-to-latest';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { TenantRegistry } from '../src/tenancy/tenant-registry';
import { quoteIdent } from '../src/database/sql-identifiers';
import {
  asTenant,
  cloneTemplate,
  movedRecord,
  moveTenant,
  sqlIn,
  startTestApp,
  stopTestApp,
  TestApp,
  watchMigrationChecks,
  withMaintenanceClient,
} from './support/test-app';
import { connectTo, countConnections } from './support/test-database';
import { until } from './support/until';

describe('reopening a tenant', () => {
  let t: TestApp;
  /** The app's port, for requests whose connection a test drops. */
  let port: number;

  beforeAll(async () => {
    t = await startTestApp({ env: { TENANT_MAX_OPEN: '1', TENANT_SPARE_POOL: '0' } });
    await t.signUp('Reopen One');
    await t.signUp('Reopen Two');
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
  });

  afterAll(() => stopTestApp(t));

  afterEach(() => jest.restoreAllMocks());

  const list = (tenantId: string) => t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);

  it('skips the migration check for a tenant this process already found current, until it is evicted', async () => {
    await list('reopen-one');
    await list('reopen-two');
    const check = jest.spyOn(migrations, 'migrateToLatest');
    await list('reopen-one');
    await list('reopen-two');
    expect(check).not.toHaveBeenCalled();
    expect(t.app.get(TenantConnectionRegistry).stats().evictions).toBeGreaterThanOrEqual(3);

    await t.app.get(TenantConnectionRegistry).evict('reopen-one');
    await list('reopen-one');
    expect(check).toHaveBeenCalledTimes(1);
  });

  it("keeps a tenant's slot until a request whose client went away has finished", async () => {
    const database = `${t.prefix}reopen-one`;
    const name = 'Written after its client left';
    const registry = t.app.get(TenantConnectionRegistry);
    const locker = await connectTo(database);
    try {
      await locker.query('BEGIN');
      // The guard's user lookup waits for this lock, so the request is still running when its client gives up.
      await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const abandoned = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/crops',
        headers: {
          'content-type': 'application/json',
          'x-tenant-id': 'reopen-one',
          authorization: `Bearer ${t.ownerToken('reopen-one')}`,
        },
      });
      abandoned.on('error', () => undefined);
      abandoned.end(JSON.stringify({ name, plantingDate: '2025-06-01' }));
      await until(async () => (await lockWaiters(database)) === 1);
      expect(await lockWaiters(database)).toBe(1);
      await gone(t.app.getHttpServer(), () => abandoned.destroy());
      // The only slot is reopen-one's: this request must wait for it, not close the pool under the request above.
      const acquire = jest.spyOn(registry, 'acquire');
      const other = list('reopen-two').then((res) => res.status);
      await until(() => acquire.mock.calls.length > 0);
      expect(acquire).toHaveBeenCalled();
      // Time for the other request to take the slot and destroy the pool, had the abandoned one let it go.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await locker.query('COMMIT');
      expect(await other).toBe(200);
    } finally {
      await locker.end();
    }
    expect(await sqlIn(database, 'SELECT name FROM crops WHERE name = $1', [name])).toHaveLength(1);
  });

  it('serves the database its record names: an ORM opened or kept for another one is replaced', async () => {
    const registry = t.app.get(TenantConnectionRegistry);
    const one = `${t.prefix}reopen-one`;
    // Where an operator restored reopen-one's database, say: a copy holding a crop the original does not.
    const moved = `${t.prefix}moved-one`;
    await cloneTemplate(t, moved);
    const crops = async (tenantId: string) =>
      ((await list(tenantId)).body as { name: string }[]).map((crop) => crop.name);
    const pointAt = (database: string) => moveTenant(t, 'reopen-one', database);
    await sqlIn(
      moved,
      "INSERT INTO crops (id, name, planting_date) VALUES (gen_random_uuid(), 'Only moved', now())",
    );
    expect(await crops('reopen-one')).not.toContain('Only moved');
    const { replaced, evictions } = registry.stats();
    try {
      // Open when its record changes: the next request is served from the database it names now, in the slot the
      // replaced ORM gave up (no eviction).
      await pointAt(moved);
      expect(await crops('reopen-one')).toContain('Only moved');
      expect(registry.stats()).toMatchObject({ replaced: replaced + 1, evictions });
      // The replaced ORM's pool is closed, not left holding a connection to the old database.
      const connections = () => withMaintenanceClient((c) => countConnections(c, one));
      await until(async () => (await connections()) === 0);
      expect(await connections()).toBe(0);
      // Kept without a slot when its record changes back: replaced without reconnecting, its successor on the old
      // database again.
      await list('reopen-two');
      expect(registry.isOpen('reopen-one')).toBe(false);
      expect(registry.isKept('reopen-one')).toBe(true);
    } finally {
      await pointAt(one);
    }
    const { reopens } = registry.stats();
    expect(await crops('reopen-one')).not.toContain('Only moved');
    expect(registry.stats()).toMatchObject({ replaced: replaced + 2, reopens, open: 1 });
  });

  it("keeps a replaced ORM's slot while a request holds it: the successor waits for it", async () => {
    const registry = t.app.get(TenantConnectionRegistry);
    const moved = `${t.prefix}moved-again`;
    await cloneTemplate(t, moved);
    const record = (await t.app.get(TenantRegistry).find('reopen-one'))!;
    const held = await registry.acquire(record);
    // A build checks the moved database's migrations first thing once it has a slot.
    const checks = watchMigrationChecks('reopen-one');
    const built = () => checks.count() > 0;
    const successor = registry.acquire(movedRecord(record, moved));
    // The only slot is the replaced ORM's: the successor waits for it, neither built nor connected.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const connections = () => withMaintenanceClient((c) => countConnections(c, moved));
    expect(built()).toBe(false);
    expect(await connections()).toBe(0);
    expect(registry.stats().open).toBe(1);
    held.release();
    const lease = await successor;
    lease.release();
    expect(built()).toBe(true);
    expect(lease.record.databaseName).toBe(moved);
  });

  it("builds a new DI subtree for an organization signed up again under a deleted one's name", async () => {
    const registry = t.app.get(TenantConnectionRegistry);
    const first = await t.signUp('Signed Up Twice');
    const create = (organizationId: string) =>
      asTenant(t, first.tenantId).post('/api/crops', {
        name: 'Wheat',
        plantingDate: '2025-06-01',
        organizationId,
      });
    // Builds the tenant's CropsService, which holds its organization's id.
    await create(first.id).expect(201);
    await list('reopen-two');
    expect(registry.isKept(first.tenantId)).toBe(true);
    // The operator deletes the organization and its database; its name is signed up again.
    await sqlIn(t.config.DB_NAME, 'DELETE FROM organizations WHERE id = $1', [first.id]);
    await sqlIn('postgres', `DROP DATABASE ${quoteIdent(`${t.prefix}${first.tenantId}`)}`);
    const second = await t.signUp('Signed Up Twice');
    expect(second.tenantId).toBe(first.tenantId);
    await create(second.id).expect(201);
    expect((await create(first.id).expect(400)).body.code).toBe('ORGANIZATION_MISMATCH');
  });

  it('gives a slot up after pipelined requests whose connection dropped have finished', async () => {
    const database = `${t.prefix}reopen-one`;
    await list('reopen-one');
    const locker = await connectTo(database);
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      // Two requests on one connection: the second's response is queued behind the first's, with no socket of its own.
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      const get = [
        'GET /api/crops HTTP/1.1',
        'Host: localhost',
        'X-Tenant-ID: reopen-one',
        `Authorization: Bearer ${t.ownerToken('reopen-one')}`,
        '',
        '',
      ].join('\r\n');
      socket.write(get + get);
      await until(async () => (await lockWaiters(database)) === 2);
      expect(await lockWaiters(database)).toBe(2);
      await gone(t.app.getHttpServer(), () => socket.destroy());
      await locker.query('COMMIT');
    } finally {
      await locker.end();
    }
    // reopen-one's slot is the only one: another tenant gets it (else 503 TENANT_CAPACITY) only once both requests
    // gave their leases back.
    await list('reopen-two');
  });

  it('brings a database replaced under its name by an older one up to date: 503 until it is, then served', async () => {
    const { tenantId } = await t.signUp('Restored Farm');
    await list(tenantId);
    const database = `${t.prefix}${tenantId}`;
    // Restored in place from a backup older than the tenant's migrations (here: from before the first).
    await withMaintenanceClient(async (c) => {
      await c.query(`DROP DATABASE ${quoteIdent(database)} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${quoteIdent(database)}`);
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5 && statuses.at(-1) !== 200; i++) {
      statuses.push((await t.http.get('/api/crops').set('X-Tenant-ID', tenantId)).status);
    }
    // Its open connection was ended with the old database (503 DATABASE_UNAVAILABLE), its next met no crops table.
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.filter((status) => status !== 503)).toEqual([200]);
    const [{ tables }] = await sqlIn<{ tables: number }>(
      database,
      "SELECT count(*)::int AS tables FROM pg_tables WHERE tablename IN ('crops', 'harvests', 'users')",
    );
    expect(tables).toBe(3);

    // A table missing though its migrations ran (a bug's query would meet the same): its migrations were checked
    // just now, so the error is the request's own, not a reopening per request.
    const { replaced } = t.app.get(TenantConnectionRegistry).stats();
    await sqlIn(database, 'DROP TABLE crops CASCADE');
    await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(500);
    expect(t.app.get(TenantConnectionRegistry).stats().replaced).toBe(replaced);
  });
});

/** Backends waiting for a lock in one database. */
async function lockWaiters(database: string): Promise<number> {
  const [row] = await sqlIn<{ n: number }>(
    'postgres',
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
      WHERE NOT l.granted AND d.datname = $1`,
    [database],
  );
  return row.n;
}

/** Drops a client connection (`drop`) and waits until `server` has seen it go. */
async function gone(server: Server, drop: () => void): Promise<void> {
  const count = () =>
    new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
  const before = await count();
  drop();
  await until(async () => (await count()) < before);
  expect(await count()).toBeLessThan(before);
}
