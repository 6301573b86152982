import type { MikroORM } from '@mikro-orm/core';
import type { Client } from 'pg';

/**
 * Brings a database to the latest migration of its ORM's migration list. The pending check is one query on the
 * migrations table; only when something is pending is a cross-process lock taken (on a maintenance connection,
 * keyed by database name) so that two processes never run the same migration twice.
 */
export async function migrateToLatest(orm: MikroORM, lockClient: () => Promise<Client>): Promise<string[]> {
  const migrator = orm.getMigrator();
  if ((await migrator.getPendingMigrations()).length === 0) return [];
  const client = await lockClient();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [
      `farm-management:migrate:${orm.config.get('dbName')}`,
    ]);
    const applied = await migrator.up();
    return applied.map((m) => m.name);
  } finally {
    await client.end();
  }
}

export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  return (await orm.getMigrator().getPendingMigrations()).map((m) => m.name);
}
