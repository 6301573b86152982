import { dropDatabases, maintenanceClient, runId, TEST_DB_MARKER } from './test-database';

/** Drops every database this run created (tests drop their own too; this catches a crashed one). */
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
