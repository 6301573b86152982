import { MikroORM } from '@mikro-orm/postgresql';
import { Migration } from '@mikro-orm/migrations';
import { TENANT_MIGRATIONS } from '../migrations/tenant';
import { DatabaseServer } from '../src/database/database-server';
import { migrateToLatest } from '../src/database/migrate-to-latest';
import { quoteIdent } from '../src/database/sql-identifiers';
import { TenantOrmFactory } from '../src/tenancy/tenant-orm.factory';
import {
  asTenant,
  sqlIn,
  startTestApp,
  stopTestApp,
  TestApp,
  withMaintenanceClient,
} from './support/test-app';
import { connectTo, serverEnv } from './support/test-database';

const TIMEOUT_MS = 300;

class SlowMigration extends Migration {
  override up(): void {
    this.addSql('select pg_sleep(0.6);');
    this.addSql('create table "slow_probe" ("id" int primary key);');
  }
}

describe('DB_STATEMENT_TIMEOUT_MS', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      env: { DB_STATEMENT_TIMEOUT_MS: String(TIMEOUT_MS), TENANT_SPARE_POOL: '0' },
    });
    await t.signUp('Slow Farm');
  });

  afterAll(() => stopTestApp(t));

  it('answers 503 QUERY_TIMEOUT when a statement waits past it, keeping nothing, and serves the next request', async () => {
    const farm = asTenant(t, 'slow-farm');
    const database = `${t.prefix}slow-farm`;
    const locker = await connectTo(database);
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE crops IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const res = await farm
        .post('/api/crops', { name: 'Never stored', plantingDate: '2025-06-01' })
        .timeout(10_000);
      const elapsed = Date.now() - started;
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 503,
        body: {
          statusCode: 503,
          error: 'Service Unavailable',
          message: 'The database took too long to answer and the request was canceled; retry shortly',
          code: 'QUERY_TIMEOUT',
        },
      });
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS);
      await locker.query('COMMIT');
    } finally {
      await locker.end();
    }
    expect(await sqlIn(database, 'SELECT name FROM crops')).toEqual([]);
    const created = await farm.post('/api/crops', { name: 'Stored', plantingDate: '2025-06-01' });
    expect(created.status).toBe(201);
    const list = await farm.get('/api/crops').expect(200);
    expect((list.body as { name: string }[]).map((crop) => crop.name)).toEqual(['Stored']);
  });

  it('holds for the control plane too', async () => {
    const rows = await t.app
      .get(MikroORM)
      .em.getConnection()
      .execute<{ statement_timeout: string }[]>('SHOW statement_timeout');
    expect(rows).toEqual([{ statement_timeout: `${TIMEOUT_MS}ms` }]);
  });

  it('does not limit migrations, which run on the same connections', async () => {
    const env = serverEnv();
    const server = new DatabaseServer(env.DB_HOST, Number(env.DB_PORT), env.DB_USER, env.DB_PASSWORD);
    const database = `${t.prefix}slow-migration`;
    await withMaintenanceClient((client) => client.query(`CREATE DATABASE ${quoteIdent(database)}`));
    const factory = new TenantOrmFactory(server, { ...t.config, TENANT_POOL_MAX: 1 }, [
      ...TENANT_MIGRATIONS,
      { name: 'Migration99990101000000', class: SlowMigration },
    ]);
    const orm = factory.create(database, 'tenant:slow-migration');
    try {
      const applied = await migrateToLatest(orm, (work) => server.withAdminClient(work));
      expect(applied.at(-1)).toBe('Migration99990101000000');
      expect(await sqlIn(database, 'SELECT count(*)::int AS n FROM slow_probe')).toEqual([{ n: 0 }]);
      await expect(orm.em.getConnection().execute('select pg_sleep(0.6)')).rejects.toMatchObject({
        code: '57014',
      });
    } finally {
      await orm.close(true);
    }
  });
});
