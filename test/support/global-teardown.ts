import type { Client } from 'pg';
import { dropRunDatabases } from './test-database';

/**
 * Drops every database this run created. Tests leave theirs here rather than drop them as they go: every DROP
 * DATABASE waits for a checkpoint, which syncs every file written since the last one, and while other tests created
 * tenant databases by the hundred that took 20-50 s per checkpoint and ran a test past its timeout.
 */
export default async function globalTeardown(): Promise<void> {
  try {
    await dropRunDatabases();
  } finally {
    await (globalThis as { farmRunLock?: Client }).farmRunLock?.end();
    const embedded = (globalThis as { farmEmbeddedPostgres?: { stop(): Promise<void> } })
      .farmEmbeddedPostgres;
    await embedded?.stop();
  }
}
