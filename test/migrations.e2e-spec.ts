import { MikroORM } from '@mikro-orm/postgresql';
import { Migration } from '@mikro-orm/migrations';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CONTROL_MIGRATIONS } from '../migrations/control';
import { TENANT_MIGRATIONS } from '../migrations/tenant';
import { migrateToLatest } from '../src/database/migrate-to-latest';
import { quoteIdent } from '../src/database/sql-identifiers';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { TEMPLATE_TARGET_ID, TenantFleet } from '../src/tenancy/tenant-fleet';
import { TenantOrmFactory } from '../src/tenancy/tenant-orm.factory';
import { TenantRegistry } from '../src/tenancy/tenant-registry';
import { TenantTemplate, templateLockKey } from '../src/tenancy/tenant-template';
import { advisoryLock, lockKey, tryAdvisoryLock } from '../src/database/advisory-lock';
import {
  maintenanceClient,
  serverEnv,
  settledLockWaiters,
  testServer,
  withLimitedRole,
} from './support/test-database';
import {
  lockWaitersAndStatuses,
  sqlIn,
  startTestApp,
  stopTestApp,
  TestApp,
  withMaintenanceClient,
} from './support/test-app';
import { TenantSparePool } from '../src/tenancy/tenant-spare-pool';
import { sourceProcess } from './support/source-process';

class AddFleetProbeTable extends Migration {
  override up(): void {
    this.addSql('create table "fleet_probe" ("id" int primary key);');
  }
}

/** Fails, on a statement whose text holds a literal that a report of the failure must not repeat. */
class FailingProbe extends Migration {
  override up(): void {
    this.addSql("select 1 / 0 where 'probe-literal' <> '';");
  }
}

const run = promisify(execFile);

describe('migrations', () => {
  let t: TestApp;
  const tenantIds = ['north-field', 'south-field', 'east-field'];

  beforeAll(async () => {
    t = await startTestApp();
    for (const id of tenantIds) await t.signUp(id.replace('-', ' '));
  });

  afterAll(() => stopTestApp(t));

  it('lists every migration file of each folder in its index, in order', () => {
    for (const [folder, list] of [
      ['control', CONTROL_MIGRATIONS],
      ['tenant', TENANT_MIGRATIONS],
    ] as const) {
      const files = readdirSync(join(__dirname, '..', 'migrations', folder))
        .filter((f) => /^Migration\d+.*\.ts$/.test(f))
        .map((f) => f.replace(/\.ts$/, ''))
        .sort();
      expect(list.map((m) => m.name)).toEqual(files);
    }
  });

  it('leaves no difference between the entities and the migrated control-plane schema', async () => {
    const sql = await t.app.get(MikroORM).getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
    expect(sql.trim()).toBe('');
  });

  it('leaves no difference between the entities and a migrated tenant schema', async () => {
    const record = await t.app.get(TenantRegistry).find('north-field');
    const lease = await t.app.get(TenantConnectionRegistry).acquire(record!);
    try {
      const sql = await lease.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
      expect(sql.trim()).toBe('');
    } finally {
      lease.release();
    }
  });

  /** Takes a tenant's latest migration back and closes its ORM, so that its next opening migrates it. */
  const putBehind = async (tenantId: string, app = t) => {
    const connections = app.app.get(TenantConnectionRegistry);
    const lease = await connections.acquire((await app.app.get(TenantRegistry).find(tenantId))!);
    try {
      await lease.orm.getMigrator().down();
    } finally {
      lease.release();
    }
    await connections.evict(tenantId);
  };
  const migrationsOf = async (tenantId: string, app = t) =>
    (await sqlIn(`${app.prefix}${tenantId}`, 'SELECT name FROM mikro_orm_migrations ORDER BY id')).map(
      (r) => r.name,
    );

  it('migrates a tenant database that is behind when the app first opens it', async () => {
    await putBehind('east-field');
    expect(await migrationsOf('east-field')).toHaveLength(TENANT_MIGRATIONS.length - 1);
    await t.http.get('/api/crops').set('X-Tenant-ID', 'east-field').expect(200);
    expect(await migrationsOf('east-field')).toEqual(TENANT_MIGRATIONS.map((m) => m.name));
  });

  it('migrates tenants first opened at once in DB_MAINTENANCE_SESSIONS sessions at a time', async () => {
    const sessions = t.config.DB_MAINTENANCE_SESSIONS;
    expect(tenantIds.length).toBeGreaterThan(sessions);
    // A spare refill after the sign-ups would hold a session.
    await t.app.get(TenantSparePool).settled();
    for (const id of tenantIds) await putBehind(id);
    const keys = tenantIds.map((id) => lockKey(`migrate:${t.prefix}${id}`));
    const { waiters, statuses } = await lockWaitersAndStatuses(keys, sessions, () =>
      tenantIds.map((id) => t.http.get('/api/crops').set('X-Tenant-ID', id)),
    );
    // Each maintenance session waited on the server for a lock held there; the other openings waited in the app.
    expect(waiters).toBe(sessions);
    expect(statuses).toEqual(tenantIds.map(() => 200));
    for (const id of tenantIds) expect(await migrationsOf(id)).toEqual(TENANT_MIGRATIONS.map((m) => m.name));
  });

  describe('with one maintenance session and TENANT_SLOT_WAIT_MS=300', () => {
    let one: TestApp;

    beforeAll(async () => {
      one = await startTestApp({ env: { DB_MAINTENANCE_SESSIONS: '1', TENANT_SLOT_WAIT_MS: '300' } });
      await one.signUp('Second Behind');
      await one.app.get(TenantSparePool).settled();
    });

    afterAll(() => stopTestApp(one));

    it('answers 503 TENANT_UNAVAILABLE to an opening that waited that long for the session', async () => {
      await putBehind('second-behind', one);
      const crops = (tenantId: string) => one.http.get('/api/crops').set('X-Tenant-ID', tenantId);
      await withMaintenanceClient(async (holder) => {
        // A sign-up holds the only session, waiting (without a limit) for its database's lock, held here.
        const key = lockKey(`database:${one.prefix}blocked-farm`);
        await advisoryLock(holder, key);
        const signUp = one.http
          .post('/organizations')
          .send({ name: 'Blocked Farm', farmType: 'mixed' })
          .then((res) => res.status);
        expect(await settledLockWaiters(holder, [key], 1)).toBe(1);
        const started = Date.now();
        // Without the wait's limit it would wait for the session: give up before the test's timeout.
        const second = await crops('second-behind').timeout(5_000);
        expect({ status: second.status, code: second.body.code }).toEqual({
          status: 503,
          code: 'TENANT_UNAVAILABLE',
        });
        expect(Date.now() - started).toBeGreaterThanOrEqual(290);
        // Not a failure of the tenant's: not refused for a while, so no Retry-After.
        expect(second.headers['retry-after']).toBeUndefined();
        expect(one.app.get(TenantConnectionRegistry).stats().failedOpenings).toBe(0);
        await holder.query('SELECT pg_advisory_unlock_all()');
        expect(await signUp).toBe(201);
      });
      // The sign-up claimed a spare: the refill holds the only session until the pool is full again.
      await one.app.get(TenantSparePool).settled();
      expect((await crops('second-behind')).status).toBe(200);
      expect(await migrationsOf('second-behind', one)).toEqual(TENANT_MIGRATIONS.map((m) => m.name));
    });
  });

  describe('fleet', () => {
    const server = testServer();
    afterAll(() => server.stop());
    const factoryWith = (extra: boolean) =>
      new TenantOrmFactory(server, { ...t.config, TENANT_POOL_MAX: 1 }, [
        ...TENANT_MIGRATIONS,
        ...(extra ? [{ name: 'Migration99990101000000', class: AddFleetProbeTable }] : []),
      ]);
    const fleetWith = (extra: boolean) => new TenantFleet(server, t.config, factoryWith(extra));

    it('reports a new migration as pending everywhere, applies it to every tenant and the template', async () => {
      const fleet = fleetWith(true);
      const lines: string[] = [];
      const status = await fleet.status((r) => lines.push(r.tenantId));
      expect(status.map((r) => r.tenantId).sort()).toEqual([TEMPLATE_TARGET_ID, ...tenantIds].sort());
      expect(lines).toHaveLength(status.length);
      expect(status.every((r) => r.ok && r.migrations.join() === 'Migration99990101000000')).toBe(true);

      const migrated = await fleet.migrate(() => undefined);
      expect(migrated.every((r) => r.ok && r.migrations.join() === 'Migration99990101000000')).toBe(true);
      for (const id of tenantIds) {
        expect(await sqlIn(`${t.prefix}${id}`, 'SELECT count(*)::int AS n FROM fleet_probe')).toEqual([
          { n: 0 },
        ]);
      }
      expect(await sqlIn(`${t.prefix}_template`, 'SELECT count(*)::int AS n FROM fleet_probe')).toEqual([
        { n: 0 },
      ]);
      const after = await fleet.status(() => undefined);
      expect(after.every((r) => r.ok && r.migrations.length === 0)).toBe(true);
    });

    it('waits for a clone of the template in progress before connecting to the template', async () => {
      const cloning = await maintenanceClient();
      let status: ReturnType<TenantFleet['status']>;
      try {
        const key = templateLockKey(`${t.prefix}_template`);
        await advisoryLock(cloning, key, 'shared');
        let settled = false;
        status = fleetWith(false)
          .status(() => undefined)
          .finally(() => (settled = true));
        // The fleet's exclusive lock on the template waits behind the clone's shared one.
        expect(await settledLockWaiters(cloning, [key], 1)).toBe(1);
        expect(settled).toBe(false);
      } finally {
        // Released whatever happened: the later tests' migrations take the template's lock.
        await cloning.end();
      }
      const results = await status;
      expect(results.find((r) => r.tenantId === TEMPLATE_TARGET_ID)).toMatchObject({
        ok: true,
        migrations: [],
      });
    });

    it('lets go of the template once a clone is made, while the cloning session goes on', async () => {
      const target = `${t.prefix}clone-released`;
      try {
        await server.withAdminClient(async (client) => {
          await t.app.get(TenantTemplate).clone(client, target);
          // An exclusive request (upkeep, a fleet command) need not wait for the rest of a sign-up or a fill.
          const observer = await maintenanceClient();
          try {
            expect(await tryAdvisoryLock(observer, templateLockKey(`${t.prefix}_template`))).toBe(true);
          } finally {
            await observer.end();
          }
        });
      } finally {
        await withMaintenanceClient((c) => c.query(`DROP DATABASE IF EXISTS "${target}"`));
      }
    });

    it("migrates without MikroORM's lookup of every table where its own table exists", async () => {
      const database = `${t.prefix}table-lookup`;
      await withMaintenanceClient((c) => c.query(`CREATE DATABASE ${quoteIdent(database)}`));
      const migrate = async (extra: boolean) => {
        const orm = factoryWith(extra).create(database, 'tenant:table-lookup');
        const execute = jest.spyOn(orm.em.getConnection(), 'execute');
        try {
          const applied = await migrateToLatest(orm, (work) => server.withAdminClient(work));
          const lookups = execute.mock.calls.filter(
            ([sql]) => typeof sql === 'string' && sql.includes('information_schema.tables'),
          );
          return { applied, lookups: lookups.length };
        } finally {
          await orm.close(true);
        }
      };
      // A new database: MikroORM looks its table up and makes it.
      expect(await migrate(false)).toEqual({ applied: TENANT_MIGRATIONS.map((m) => m.name), lookups: 1 });
      expect(await migrate(true)).toEqual({ applied: ['Migration99990101000000'], lookups: 0 });
      expect(await sqlIn(database, 'SELECT count(*)::int AS n FROM fleet_probe')).toEqual([{ n: 0 }]);
    });

    it('goes on past a failing tenant and reports it', async () => {
      await t.app.get(TenantConnectionRegistry).evict('south-field');
      await withMaintenanceClient((c) => c.query(`DROP DATABASE "${t.prefix}south-field" WITH (FORCE)`));
      const results = await fleetWith(true).migrate(() => undefined);
      const failed = results.filter((r) => !r.ok);
      expect(failed.map((r) => r.tenantId)).toEqual(['south-field']);
      expect(results.filter((r) => r.ok)).toHaveLength(tenantIds.length);
    });

    it("reports a failed migration by the server's error, without the statement or its values", async () => {
      const factory = new TenantOrmFactory(server, { ...t.config, TENANT_POOL_MAX: 1 }, [
        ...TENANT_MIGRATIONS,
        { name: 'Migration99990101000000', class: AddFleetProbeTable },
        { name: 'Migration99990102000000', class: FailingProbe },
      ]);
      const results = await new TenantFleet(server, t.config, factory).migrate(() => undefined);
      const north = results.find((r) => r.tenantId === 'north-field');
      expect(north).toMatchObject({
        ok: false,
        error: 'Migration Migration99990102000000 (up) failed: database error 22012: division by zero',
      });
    });

    it('runs as npm run tenants:status / tenants:migrate: a line per tenant, exit code 1 when one failed', async () => {
      const env = {
        ...process.env,
        ...serverEnv(),
        TENANT_DB_PREFIX: t.prefix,
        DB_NAME: t.config.DB_NAME,
      };
      const cli = (script: string, args: string[] = [], extraEnv: Record<string, string> = {}) => {
        const command = sourceProcess(`src/cli/${script}.ts`, args);
        return run(process.execPath, command.args, {
          env: { ...env, ...command.env, ...extraEnv },
          cwd: command.cwd,
        })
          .then(
            (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
            (e: { code: number; stdout: string; stderr: string }) => ({
              code: e.code,
              stdout: e.stdout,
              stderr: e.stderr,
            }),
          )
          .finally(() => rmSync(command.cwd, { recursive: true, force: true }));
      };
      const status = await cli('tenants-status');
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/^north-field: up to date$/m);
      expect(status.stdout).toMatch(/^south-field: FAILED /m);
      expect(status.stdout).toMatch(/^\(template\): up to date$/m);
      expect(status.stdout).toMatch(/4 database\(s\), 3 ok, 1 failed/);

      await sqlIn(
        t.config.DB_NAME,
        "UPDATE organizations SET status = 'failed' WHERE tenant_id = 'south-field'",
      );
      const migrate = await cli('tenants-migrate');
      expect(migrate.code).toBe(0);
      expect(migrate.stdout).toMatch(/^east-field: up to date$/m);
      expect(migrate.stdout).not.toMatch(/south-field/);

      // It runs only where the server lets its role open every connection it may: not as a role limited to 5.
      const limited = await withLimitedRole(5, (role) => cli('tenants-migrate', [], { DB_USER: role }));
      expect(limited.code).toBe(1);
      expect(limited.stderr).toMatch(
        /^tenants:migrate failed: This process may open 8 connections \(TENANT_MIGRATE_CONCURRENCY x 2\), .*; lower TENANT_MIGRATE_CONCURRENCY$/m,
      );

      // Arguments are not options it ignores: --help prints the usage, anything else is refused; no database is read.
      const help = await cli('tenants-migrate', ['--help']);
      expect(help).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/^Usage: npm run tenants:migrate/),
      });
      const unknown = await cli('tenants-migrate', ['--dry-run']);
      expect(unknown).toMatchObject({
        code: 2,
        stdout: '',
        stderr: expect.stringMatching(/^Unknown argument: --dry-run/),
      });
      // A registry that cannot be read: one line, no stack.
      const noRegistry = await cli('tenants-status', [], { DB_NAME: `${t.prefix.slice(0, -1)}missing` });
      expect(noRegistry.code).toBe(1);
      expect(noRegistry.stderr.trim()).toMatch(/^tenants:status failed: database error 3D000: .*[^\n]$/);
      // The same with an embedded server the command starts itself (whose package exits with 0 unless told).
      const dir = mkdtempSync(join(tmpdir(), 'fm-cli-pg-'));
      try {
        const embedded = await cli('tenants-status', [], { DB_HOST: '', EMBEDDED_PG_DIR: dir });
        expect(embedded.code).toBe(1);
        expect(embedded.stderr).toMatch(/^tenants:status failed: database error 3D000: /m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 90_000);
  });
});
