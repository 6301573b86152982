import { MigrationObject, MikroORM } from '@mikro-orm/core';
import { Migration, Migrator } from '@mikro-orm/migrations';
import type { Client } from 'pg';
import { lockKey, withAdvisoryLock } from './advisory-lock';
import { UNDEFINED_TABLE } from './database-server';

/** A migration of the list: a concrete subclass of Migration. */
interface ListedMigration extends Migration {
  up(): Promise<void> | void;
}
type MigrationClass = new (...args: ConstructorParameters<typeof Migration>) => ListedMigration;

/** Each list's wrapped classes per lock timeout, made once: tenant ORMs are built by the thousand from one list. */
const wrappedLists = new WeakMap<MigrationObject[], Map<number, MigrationObject[]>>();

/**
 * The migrations, each first lifting the session's statement_timeout (DB_STATEMENT_TIMEOUT_MS, meant for requests)
 * for the transaction it runs in, as a migration may take longer than a request, and, unless `lockTimeoutMs` is 0,
 * setting its lock_timeout (DB_MIGRATION_LOCK_TIMEOUT_MS): a migration queued for a lock behind another session's
 * transaction holds up, behind its own lock request, every request to the tables it alters, so it gives up after
 * that long (55P03), and with it the whole batch of pending migrations (one transaction, `allOrNothing`). The limit
 * is per lock wait. Every runtime ORM lists its migrations through this, so every path that migrates (at start, a
 * tenant's opening, `tenants:migrate`, the MikroORM CLI) gets both. A migration that opted out of the transaction
 * (`isTransactional()` false) would get neither, as `set local` needs a transaction.
 */
export function withMigrationTimeouts(
  migrations: MigrationObject[],
  lockTimeoutMs: number,
): MigrationObject[] {
  let byTimeout = wrappedLists.get(migrations);
  if (!byTimeout) {
    byTimeout = new Map();
    wrappedLists.set(migrations, byTimeout);
  }
  let wrapped = byTimeout.get(lockTimeoutMs);
  if (!wrapped) {
    const settings = [
      'set local statement_timeout = 0',
      ...(lockTimeoutMs > 0 ? [`set local lock_timeout = ${Math.trunc(lockTimeoutMs)}`] : []),
    ].join('; ');
    wrapped = migrations.map(({ name, class: migration }) => ({
      name,
      class: withSettings(migration, settings),
    }));
    byTimeout.set(lockTimeoutMs, wrapped);
  }
  return wrapped;
}

/** The migration class, running `settings` (one round trip) before its own statements, up or down. */
function withSettings(migration: MigrationObject['class'], settings: string): MigrationObject['class'] {
  const Base = migration as unknown as MigrationClass;
  return class WithSettings extends Base {
    override async up(): Promise<void> {
      await this.execute(settings);
      await super.up();
    }

    override async down(): Promise<void> {
      await this.execute(settings);
      await super.down();
    }
  };
}

/**
 * Names of the migrations in the ORM's list that the database has not run, in one query. Unlike MikroORM's
 * `getPendingMigrations()`, this never creates a missing database (the migrator's `ensureDatabase` would): a
 * tenant whose database is gone fails instead of coming back empty.
 */
export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  return (await migrationState(orm)).pending;
}

/** The pending migrations, and whether the database has MikroORM's table of those it ran. */
async function migrationState(orm: MikroORM): Promise<{ pending: string[]; hasTable: boolean }> {
  const { tableName = 'mikro_orm_migrations', migrationsList = [] } = orm.config.get('migrations');
  let executed: Set<string>;
  let hasTable = true;
  try {
    const rows = (await orm.em.getConnection().execute(`select name from "${tableName}"`)) as {
      name: string;
    }[];
    executed = new Set(rows.map((row) => row.name));
  } catch (error) {
    if ((error as { code?: string }).code !== UNDEFINED_TABLE) throw error;
    executed = new Set();
    hasTable = false;
  }
  return { pending: migrationsList.map((m) => m.name).filter((name) => !executed.has(name)), hasTable };
}

/** Runs work on a maintenance client: in a new maintenance session, or on the caller's own session's client. */
export type OnAdminClient = <T>(work: (client: Client) => Promise<T>) => Promise<T>;

/**
 * Brings a database to the latest migration of its ORM's migration list. When something is pending, a
 * cross-process lock keyed by database name is taken on a maintenance client, so that two processes never run the
 * same migration twice; the pending check is one query otherwise. `lockWaitMs` above 0 bounds the wait for that
 * lock (another process migrating the database, or a session of one that hangs).
 */
export async function migrateToLatest(
  orm: MikroORM,
  onAdminClient: OnAdminClient,
  lockWaitMs = 0,
): Promise<string[]> {
  const { pending, hasTable } = await migrationState(orm);
  if (pending.length === 0) return [];
  return onAdminClient((client) =>
    withAdvisoryLock(
      client,
      lockKey(`migrate:${orm.config.get('dbName')}`),
      () => runPending(orm, hasTable),
      lockWaitMs,
    ),
  );
}

/**
 * Runs the ORM's pending migrations; returns their names. Before each run MikroORM's migrator looks for its table
 * among every table of the database (a query on information_schema.tables), which costs a new backend as much as the
 * migration itself: ~12 ms of the ~64 ms a tenant took `tenants:migrate` on a PVM machine. Where the table is known
 * to exist (`hasTable`), this run skips it (a migrator's first run, which every caller's ORM makes: MikroORM makes the
 * storage anew for later ones).
 */
async function runPending(orm: MikroORM, hasTable: boolean): Promise<string[]> {
  const migrator = orm.getMigrator<Migrator>();
  const storage = migrator.getStorage();
  // For this run only: an own property over the prototype's method.
  if (hasTable) storage.ensureTable = () => Promise.resolve();
  try {
    const applied = await migrator.up();
    return applied.map((m) => m.name);
  } finally {
    Reflect.deleteProperty(storage, 'ensureTable');
  }
}
