import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import * as migrations from '../src/database/migrate-to-latest';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { sqlIn, startTestApp, stopTestApp, TestApp } from './support/test-app';
import { connectTo } from './support/test-database';
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
