import { TENANT_MIGRATIONS } from '../migrations/tenant';
import { advisoryLock, lockKey } from '../src/database/advisory-lock';
import { TenantFleet } from '../src/tenancy/tenant-fleet';
import { TenantOrmFactory } from '../src/tenancy/tenant-orm.factory';
import { TenantSparePool } from '../src/tenancy/tenant-spare-pool';
import { connectTo, countDatabases, testServer } from './support/test-database';
import { sqlIn, startTestApp, stopTestApp, TestApp, withMaintenanceClient } from './support/test-app';
import { until } from './support/until';

const LATEST = TENANT_MIGRATIONS[TENANT_MIGRATIONS.length - 1].name;

interface SpareRow {
  name: string;
  migrated_to: string | null;
}

describe('spare databases', () => {
  let t: TestApp;

  const spareRows = () =>
    sqlIn<SpareRow>(t.config.DB_NAME, 'SELECT name, migrated_to FROM spare_databases ORDER BY name');
  const oidOf = async (database: string): Promise<number | undefined> => {
    const rows = await sqlIn<{ oid: number }>(
      'postgres',
      'SELECT oid::int AS oid FROM pg_database WHERE datname = $1',
      [database],
    );
    return rows[0]?.oid;
  };
  const spareDatabases = () => withMaintenanceClient((c) => countDatabases(c, `${t.prefix}_spare_`));
  const appliedMigrations = async (database: string) =>
    (await sqlIn<{ name: string }>(database, 'SELECT name FROM mikro_orm_migrations ORDER BY id')).map(
      (r) => r.name,
    );

  beforeAll(async () => {
    t = await startTestApp({ env: { TENANT_SPARE_POOL: '2' } });
  });

  afterAll(() => stopTestApp(t));

  it('fills the pool at start with spares at the latest tenant migration', async () => {
    const rows = await spareRows();
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.migrated_to === LATEST && r.name.startsWith(`${t.prefix}_spare_`))).toBe(true);
    expect(await spareDatabases()).toBe(2);
    for (const { name } of rows)
      expect(await appliedMigrations(name)).toEqual(TENANT_MIGRATIONS.map((m) => m.name));
  });

  it('signs up by renaming a spare, then refills the pool in the background', async () => {
    const before = await spareRows();
    const spareOids = await Promise.all(before.map((r) => oidOf(r.name)));
    const { tenantId } = await t.signUp('Spare Meadow');
    const database = `${t.prefix}${tenantId}`;
    expect(spareOids).toContain(await oidOf(database));
    await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);

    await t.app.get(TenantSparePool).settled();
    const after = await spareRows();
    expect(after).toHaveLength(2);
    expect(after.every((r) => r.migrated_to === LATEST)).toBe(true);
    expect(after.filter((r) => before.some((b) => b.name === r.name))).toHaveLength(1);
    expect(await spareDatabases()).toBe(2);
  });

  it("refills after a sign-up whose refill found another process's fill under way", async () => {
    const other = await connectTo('postgres');
    try {
      // Another process's fill, past its last count of the pool: it will not see this claim.
      await advisoryLock(other, lockKey(`spares:${t.prefix}`));
      await t.signUp('Late Refill');
      await t.app.get(TenantSparePool).settled();
      expect(await spareRows()).toHaveLength(1);
    } finally {
      await other.end();
    }
    await until(async () => (await spareRows()).length === 2, 20_000);
    await t.app.get(TenantSparePool).settled();
    expect((await spareRows()).map((r) => r.migrated_to)).toEqual([LATEST, LATEST]);
  }, 30_000);

  it('gives concurrent sign-ups in two app processes each its own database', async () => {
    const other = await startTestApp({ prefix: t.prefix, env: { TENANT_SPARE_POOL: '2' } });
    try {
      const spareOids = await Promise.all((await spareRows()).map((r) => oidOf(r.name)));
      const names = Array.from({ length: 6 }, (_, i) => `Parallel Farm ${i}`);
      const responses = await Promise.all(
        names.map((name, i) =>
          (i % 2 === 0 ? t : other).http.post('/organizations').send({ name, farmType: 'mixed' }),
        ),
      );
      expect(responses.map((r) => r.status)).toEqual(names.map(() => 201));
      const oids = await Promise.all(responses.map((r) => oidOf(`${t.prefix}${r.body.tenantId}`)));
      expect(oids.every((oid) => oid !== undefined)).toBe(true);
      expect(new Set(oids).size).toBe(names.length);
      expect(oids.filter((oid) => spareOids.includes(oid)).length).toBeGreaterThanOrEqual(1);
      await Promise.all([t.app.get(TenantSparePool).settled(), other.app.get(TenantSparePool).settled()]);
      const rows = await spareRows();
      expect(rows.every((r) => r.migrated_to === LATEST)).toBe(true);
      expect(await spareDatabases()).toBe(rows.length);
    } finally {
      await stopTestApp(other);
    }
  });

  it('never lists spares as tenants', async () => {
    const [spare] = await spareRows();
    const listed = await t.http.get('/organizations?limit=200').expect(200);
    expect(listed.body.map((o: { tenantId: string }) => o.tenantId)).not.toContain(
      spare.name.slice(t.prefix.length),
    );
    expect(JSON.stringify(listed.body)).not.toMatch(/_spare_/);
    await t.http.get('/api/crops').set('X-Tenant-ID', spare.name.slice(t.prefix.length)).expect(400);

    const server = testServer();
    const fleet = new TenantFleet(
      server,
      t.config,
      new TenantOrmFactory(server, { ...t.config, TENANT_POOL_MAX: 1 }),
    );
    const targets = await fleet.targets().finally(() => server.stop());
    expect(targets.some((target) => target.databaseName.startsWith(`${t.prefix}_spare_`))).toBe(false);
  });

  const EARLIER = TENANT_MIGRATIONS[0].name;
  /**
   * A tenant migration this release lacks, of another release (named before this one's latest, as one of a branch
   * made earlier but released later may be).
   */
  const LACKED = 'Migration00000000000001';
  const label = (name: string, migratedTo: string) =>
    sqlIn(t.config.DB_NAME, 'UPDATE spare_databases SET migrated_to = $2 WHERE name = $1', [
      name,
      migratedTo,
    ]);
  /** Makes a spare look prepared by an older release: its schema gone, its row at an earlier migration. */
  const makeStale = async (name: string) => {
    await sqlIn(name, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    await label(name, EARLIER);
  };

  // During a rolling deploy a process of the older release still prepares spares at its own latest migration.
  it("migrates a spare an older release prepared at the next fill, and leaves a newer release's alone", async () => {
    const [stale, newer] = await spareRows();
    const spareOids = await Promise.all([stale, newer].map((r) => oidOf(r.name)));
    await makeStale(stale.name);
    await label(newer.name, LACKED);
    // Neither spare is at this release's latest migration: the sign-up clones, then the pool fills.
    const { tenantId } = await t.signUp('Rolling Deploy Farm');
    expect(spareOids).not.toContain(await oidOf(`${t.prefix}${tenantId}`));
    await t.app.get(TenantSparePool).settled();
    expect(await spareRows()).toEqual(
      [
        { name: stale.name, migrated_to: LATEST },
        { name: newer.name, migrated_to: LACKED },
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect(await appliedMigrations(stale.name)).toEqual(TENANT_MIGRATIONS.map((m) => m.name));
  });

  // After a rollback, nothing claims a spare of the release rolled back.
  it('at start, drops the spares of a migration this release lacks, and refills', async () => {
    const [lacking] = await spareRows();
    await label(lacking.name, LACKED);
    await stopTestApp(t);
    t = await startTestApp({ prefix: t.prefix, env: { TENANT_SPARE_POOL: '2' } });
    const rows = await spareRows();
    expect(rows.map((r) => r.name)).not.toContain(lacking.name);
    expect(rows.map((r) => r.migrated_to)).toEqual([LATEST, LATEST]);
    expect(await oidOf(lacking.name)).toBeUndefined();
  });

  it('tries a start that failed again, with what a start does', async () => {
    const [lacking] = await spareRows();
    await label(lacking.name, LACKED);
    await stopTestApp(t);
    const fillLocked = jest
      .spyOn(TenantSparePool.prototype as unknown as { fillLocked(): Promise<boolean> }, 'fillLocked')
      .mockRejectedValueOnce(new Error('the maintenance session was lost'));
    try {
      t = await startTestApp({ prefix: t.prefix, env: { TENANT_SPARE_POOL: '2' }, logger: [] });
      expect((await spareRows()).map((r) => r.name)).toContain(lacking.name);
      await until(async () => !(await spareRows()).some((r) => r.name === lacking.name), 20_000);
      await t.app.get(TenantSparePool).settled();
      expect((await spareRows()).map((r) => r.migrated_to)).toEqual([LATEST, LATEST]);
      expect(await oidOf(lacking.name)).toBeUndefined();
      expect(fillLocked).toHaveBeenNthCalledWith(2, true);
    } finally {
      fillLocked.mockRestore();
    }
  }, 60_000);

  it('at start, with another process preparing spares, migrates them once it has finished', async () => {
    const [stale] = await spareRows();
    await makeStale(stale.name);
    await stopTestApp(t);
    const other = await connectTo('postgres');
    try {
      await advisoryLock(other, lockKey(`spares:${t.prefix}`));
      t = await startTestApp({ prefix: t.prefix, env: { TENANT_SPARE_POOL: '2' } });
      expect((await spareRows()).find((r) => r.name === stale.name)?.migrated_to).toBe(EARLIER);
    } finally {
      await other.end();
    }
    await until(async () => (await spareRows()).every((r) => r.migrated_to === LATEST), 20_000);
    expect((await spareRows()).find((r) => r.name === stale.name)?.migrated_to).toBe(LATEST);
    expect(await appliedMigrations(stale.name)).toEqual(TENANT_MIGRATIONS.map((m) => m.name));
  }, 30_000);

  it('at start, migrates spares behind the latest migration and drops half-prepared ones', async () => {
    const [stale] = await spareRows();
    await makeStale(stale.name);
    const halfDone = `${t.prefix}_spare_halfdone`;
    await withMaintenanceClient((c) => c.query(`CREATE DATABASE "${halfDone}"`));
    await sqlIn(t.config.DB_NAME, 'INSERT INTO spare_databases (name, migrated_to) VALUES ($1, NULL)', [
      halfDone,
    ]);

    await stopTestApp(t);
    t = await startTestApp({ prefix: t.prefix, env: { TENANT_SPARE_POOL: '2' } });

    const rows = await spareRows();
    expect(rows.find((r) => r.name === stale.name)).toEqual({ name: stale.name, migrated_to: LATEST });
    expect(await appliedMigrations(stale.name)).toEqual(TENANT_MIGRATIONS.map((m) => m.name));
    expect(rows.map((r) => r.name)).not.toContain(halfDone);
    expect(await oidOf(halfDone)).toBeUndefined();
  });

  it('at start, drops the spares beyond a lowered TENANT_SPARE_POOL, down to none at 0', async () => {
    expect(await spareRows()).toHaveLength(2);
    for (const pool of [1, 0]) {
      await stopTestApp(t);
      t = await startTestApp({ prefix: t.prefix, env: { TENANT_SPARE_POOL: String(pool) } });
      expect(await spareRows()).toHaveLength(pool);
      expect(await spareDatabases()).toBe(pool);
    }
  });
});

describe('with TENANT_SPARE_POOL=0', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { TENANT_SPARE_POOL: '0' } });
  });

  afterAll(() => stopTestApp(t));

  it('signs up by cloning the template and keeps no spares', async () => {
    const { tenantId } = await t.signUp('No Spare Farm');
    await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);
    await t.app.get(TenantSparePool).settled();
    expect(await sqlIn(t.config.DB_NAME, 'SELECT name FROM spare_databases')).toEqual([]);
    expect(await withMaintenanceClient((c) => countDatabases(c, `${t.prefix}_spare_`))).toBe(0);
  });
});
