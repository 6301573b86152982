import { dropDatabases, maintenanceClient, runId, TEST_DB_MARKER } from './test-database';

/**
 * Drops every database this run created. Tests leave theirs here rather than drop them as they go: on PostgreSQL 15
 * each DROP DATABASE waits for a checkpoint, which syncs every file written since the last one, and while other tests
 * create tenant databases by the hundred that took 20-50 s per checkpoint and ran a test past its timeout.
 */
export default async function globalTeardown(): Promise<void> {
  const client = await maintenanceClient();
  try {
    await dropDatabases(client, `${TEST_DB_MARKER}${runId()}`);
  } finally {
    await client.end();
  }
  const embedded = (globalThis as { farmEmbeddedPostgres?: { stop(): Promise<void> } }).farmEmbeddedPostgres;
  await embedded?.stop();
}
