import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { dropAbandonedRunDatabases, holdRunLock } from './test-database';

/**
 * Gives the whole run one PostgreSQL: the configured one (DB_HOST) or an embedded one under .data/, and a run id
 * that prefixes every database the run creates. Workers inherit process.env. The run holds its lock until teardown,
 * and drops the databases of earlier runs that hold none (interrupted before their teardown).
 */
export default async function globalSetup(): Promise<void> {
  process.env.FARM_TEST_RUN_ID = randomBytes(3).toString('hex');
  if (!process.env.DB_HOST) {
    const server = await startEmbeddedPostgres('.data/test-postgres', 0);
    process.env.DB_HOST = server.host;
    process.env.DB_PORT = String(server.port);
    process.env.DB_USER = server.user;
    process.env.DB_PASSWORD = server.password;
    (globalThis as { farmEmbeddedPostgres?: typeof server }).farmEmbeddedPostgres = server;
  }
  (globalThis as { farmRunLock?: Client }).farmRunLock = await holdRunLock();
  try {
    const abandoned = await dropAbandonedRunDatabases();
    if (abandoned.length > 0) {
      console.log(`\nDropped the databases of ${abandoned.length} earlier test run(s) that did not clean up`);
    }
  } catch (error) {
    console.warn(`\nThe databases of earlier test runs were not dropped: ${String(error)}`);
  }
}
