import { randomBytes } from 'node:crypto';
import { quoteIdent } from '../src/database/sql-identifiers';
import { withMaintenanceClient } from './support/test-app';
import {
  countDatabases,
  dropAbandonedRunDatabases,
  maintenanceClient,
  runId,
  runLockKey,
  TEST_DB_MARKER,
} from './support/test-database';

/** A run id that is not this run's. */
function otherRun(): string {
  for (;;) {
    const id = randomBytes(3).toString('hex');
    if (id !== runId()) return id;
  }
}

const create = (name: string) =>
  withMaintenanceClient((client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`));
const count = (prefix: string) => withMaintenanceClient((client) => countDatabases(client, prefix));

describe('databases of test runs that did not tear down', () => {
  it('are dropped by a later run unless their run still holds its lock', async () => {
    const abandoned = otherRun();
    const live = otherRun();
    const own = `${TEST_DB_MARKER}${runId()}sweep`;
    for (const name of [
      `${TEST_DB_MARKER}${abandoned}a`,
      `${TEST_DB_MARKER}${abandoned}b`,
      `${TEST_DB_MARKER}${live}a`,
      own,
    ]) {
      await create(name);
    }
    const liveRun = await maintenanceClient();
    try {
      await liveRun.query('SELECT pg_advisory_lock(hashtext($1))', [runLockKey(live)]);
      const dropped = await dropAbandonedRunDatabases();
      expect(dropped).toContain(abandoned);
      expect(dropped).not.toContain(live);
      expect(dropped).not.toContain(runId());
      expect(await count(`${TEST_DB_MARKER}${abandoned}`)).toBe(0);
      expect(await count(`${TEST_DB_MARKER}${live}`)).toBe(1);
      expect(await count(own)).toBe(1);
    } finally {
      await liveRun.end();
    }
    expect(await dropAbandonedRunDatabases()).toContain(live);
    expect(await count(`${TEST_DB_MARKER}${live}`)).toBe(0);
    expect(await count(own)).toBe(1);
  });
});
