import { MikroORM } from '@mikro-orm/postgresql';
import { Migration } from '@mikro-orm/migrations';
import { TENANT_MIGRATIONS } from '../migrations/tenant';
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
import { connectTo, testServer } from './support/test-database';
import { failAfter } from './support/until';

/** Long enough that nothing but the statements made to wait hits it on a loaded machine. */
const TIMEOUT_MS = 1_000;
/** A statement that outlasts the limit. */
const SLOW_SQL = `select pg_sleep(${(2 * TIMEOUT_MS) / 1000})`;

class SlowMigration extends Migration {
  override up(): void {
    this.addSql(`${SLOW_SQL};`);
    this.addSql('create table "slow_probe" ("id" int primary key);');
  }
}

class CreateLockProbe extends Migration {
  override up(): void {
    this.addSql('create table "lock_probe" ("id" int primary key);');
  }
}

class AddColumn extends Migration {
  override up(): void {
    this.addSql('alter table "crops" add column "probe" int;');
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

  const server = testServer();
  afterAll(async () => {
    await stopTestApp(t);
    await server.stop();
  });

  it('answers 503 QUERY_TIMEOUT to a statement waiting past it, stores nothing, serves the next request', async () => {
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
          message:
            "The database canceled the request's statement (it ran too long, or an operator stopped it); retry shortly",
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

  it('starts control-plane connections with the limit', async () => {
    const rows = await t.app
      .get(MikroORM)
      .em.getConnection()
      .execute<{ setting: string }[]>("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'");
    expect(rows).toEqual([{ setting: String(TIMEOUT_MS) }]);
  });

  it('does not limit migrations, which run on the same pools', async () => {
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
      await expect(orm.em.getConnection().execute(SLOW_SQL)).rejects.toMatchObject({
        code: '57014',
      });
    } finally {
      await orm.close(true);
    }
  });
  it('lets a migration wait DB_MIGRATION_LOCK_TIMEOUT_MS for a lock, then rolls the batch back', async () => {
    const lockTimeoutMs = 500;
    const database = `${t.prefix}lock-migration`;
    await withMaintenanceClient((client) => client.query(`CREATE DATABASE ${quoteIdent(database)}`));
    const config = { ...t.config, TENANT_POOL_MAX: 1, DB_MIGRATION_LOCK_TIMEOUT_MS: lockTimeoutMs };
    // Two pending, in one transaction: the second waits for the lock.
    const withColumn = new TenantOrmFactory(server, config, [
      ...TENANT_MIGRATIONS,
      { name: 'Migration99990101000001', class: CreateLockProbe },
      { name: 'Migration99990101000002', class: AddColumn },
    ]);
    const migrate = async (factory: TenantOrmFactory, after?: (orm: MikroORM) => Promise<void>) => {
      const orm = factory.create(database, 'tenant:lock-migration');
      try {
        const applied = await migrateToLatest(orm, (work) => server.withAdminClient(work));
        await after?.(orm);
        return applied;
      } finally {
        await orm.close(true);
      }
    };
    await migrate(new TenantOrmFactory(server, config));
    const reader = await connectTo(database);
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM crops');
      const started = Date.now();
      await expect(
        Promise.race([migrate(withColumn), failAfter(10_000, 'the migration still waits for the lock')]),
      ).rejects.toThrow(/lock timeout/);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(lockTimeoutMs);
      expect(waited).toBeLessThan(5_000);
      await reader.query('COMMIT');
    } finally {
      await reader.end();
    }
    expect(await sqlIn(database, "SELECT to_regclass('lock_probe') IS NULL AS absent")).toEqual([
      { absent: true },
    ]);
    // Once applied, the pool's connection is back at the request settings: nothing leaks from the transaction.
    let settings: unknown;
    const applied = await migrate(withColumn, async (orm) => {
      settings = await orm.em
        .getConnection()
        .execute("SELECT name, setting FROM pg_settings WHERE name IN ('lock_timeout', 'statement_timeout')");
    });
    expect(applied).toEqual(['Migration99990101000001', 'Migration99990101000002']);
    expect(settings).toEqual([
      { name: 'lock_timeout', setting: '0' },
      { name: 'statement_timeout', setting: String(TIMEOUT_MS) },
    ]);
    expect(await sqlIn(database, 'SELECT probe FROM crops')).toEqual([]);
  });
});
