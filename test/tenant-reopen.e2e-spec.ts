import * as migrations from '../src/database/migrate-to-latest';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { asTenant, sqlIn, startTestApp, stopTestApp, TestApp } from './support/test-app';
import { connectTo } from './support/test-database';

describe('reopening a tenant', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { TENANT_MAX_OPEN: '1', TENANT_SPARE_POOL: '0' } });
    await t.signUp('Reopen One');
    await t.signUp('Reopen Two');
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
    const locker = await connectTo(database);
    try {
      await locker.query('BEGIN');
      // The guard's user lookup waits for this lock, so the request is still running when its client gives up.
      await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const abandoned = await asTenant(t, 'reopen-one')
        .post('/api/crops', { name, plantingDate: '2025-06-01' })
        .timeout(1_000)
        .then(
          () => 'answered',
          (error: { timeout?: number }) => (error.timeout ? 'abandoned' : error),
        );
      expect(abandoned).toBe('abandoned');
      const [waiting] = await sqlIn<{ n: number }>(
        'postgres',
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
          WHERE NOT l.granted AND d.datname = $1`,
        [database],
      );
      expect(waiting.n).toBe(1);
      // The only slot is reopen-one's: this request must wait for it, not close the pool under the request above.
      const other = list('reopen-two').then((res) => res.status);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await locker.query('COMMIT');
      expect(await other).toBe(200);
    } finally {
      await locker.end();
    }
    expect(await sqlIn(database, 'SELECT name FROM crops WHERE name = $1', [name])).toHaveLength(1);
  });
});
