import { MigrationObject, MikroORM } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import type { Client } from 'pg';
import { lockKey, withAdvisoryLock } from './advisory-lock';

/** A migration of the list: a concrete subclass of Migration. */
interface ListedMigration extends Migration {
  up(): Promise<void> | void;
}
type MigrationClass = new (...args: ConstructorParameters<typeof Migration>) => ListedMigration;

/** Each list's wrapped classes, made once: tenant ORMs are built by the thousand from the same list. */
const untimedLists = new WeakMap<MigrationObject[], MigrationObject[]>();

/**
 * The migrations, each lifting the session's statement_timeout (DB_STATEMENT_TIMEOUT_MS, meant for requests) for the
 * transaction it runs in, before anything of its own: a migration may take longer than a request. A lock it waits
 * for, it waits for no longer than that limit (lock_timeout takes its value; 55P03 then, and the migration is rolled
 * back to be retried): a migration queued behind another session's transaction would hold up, behind its own lock
 * request, every request to the tables it alters. Every runtime ORM lists its migrations through this, so no path
 * that migrates (at start, a tenant's opening, `tenants:migrate`, the MikroORM CLI) is cut short. Every migration
 * runs in the migrator's one transaction (`allOrNothing`); one that opted out of it (`isTransactional()` false)
 * would keep the limit, as `set local` needs a transaction.
 */
export function withoutStatementTimeout(migrations: MigrationObject[]): MigrationObject[] {
  let untimed = untimedLists.get(migrations);
  if (!untimed) {
    untimed = migrations.map(({ name, class: migration }) => ({ name, class: untimedClass(migration) }));
    untimedLists.set(migrations, untimed);
  }
  return untimed;
}

function untimedClass(migration: MigrationObject['class']): MigrationObject['class'] {
  const Base = migration as unknown as MigrationClass;
  return class Untimed extends Base {
    override async up(): Promise<void> {
      await this.liftStatementTimeout();
      await super.up();
    }

    override async down(): Promise<void> {
      await this.liftStatementTimeout();
      await super.down();
    }

    /** Once per transaction: a later migration of it finds the limit lifted already. */
    private async liftStatementTimeout(): Promise<void> {
      await this.execute(
        "select set_config('lock_timeout', current_setting('statement_timeout'), true) " +
          "where current_setting('statement_timeout') <> '0'",
      );
      await this.execute('set local statement_timeout = 0');
    }
  };
}

/** PostgreSQL's undefined_table: a database that has never been migrated. */
const UNDEFINED_TABLE = '42P01';

/**
 * Names of the migrations in the ORM's list that the database has not run, in one query. Unlike MikroORM's
 * `getPendingMigrations()`, this never creates a missing database (the migrator's `ensureDatabase` would): a
 * tenant whose database is gone fails instead of coming back empty.
 */
export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  const { tableName = 'mikro_orm_migrations', migrationsList = [] } = orm.config.get('migrations');
  let executed: Set<string>;
  try {
    const rows = (await orm.em.getConnection().execute(`select name from "${tableName}"`)) as {
      name: string;
    }[];
    executed = new Set(rows.map((row) => row.name));
  } catch (error) {
    if ((error as { code?: string }).code !== UNDEFINED_TABLE) throw error;
    executed = new Set();
  }
  return migrationsList.map((m) => m.name).filter((name) => !executed.has(name));
}

/** Runs work on a maintenance client: in a new maintenance session, or on the caller's own session's client. */
export type OnAdminClient = <T>(work: (client: Client) => Promise<T>) => Promise<T>;

/**
 * Brings a database to the latest migration of its ORM's migration list. When something is pending, a
 * cross-process lock keyed by database name is taken on a maintenance client, so that two processes never run the
 * same migration twice; the pending check is one query otherwise.
 */
export async function migrateToLatest(orm: MikroORM, onAdminClient: OnAdminClient): Promise<string[]> {
  if ((await pendingMigrations(orm)).length === 0) return [];
  return onAdminClient((client) =>
    withAdvisoryLock(client, lockKey(`migrate:${orm.config.get('dbName')}`), async () => {
      const applied = await orm.getMigrator().up();
      return applied.map((m) => m.name);
    }),
  );
}
