import { randomBytes } from 'node:crypto';
import { tryAdvisoryLock } from '../src/database/advisory-lock';
import { quoteIdent } from '../src/database/sql-identifiers';
import { newPrefix, withMaintenanceClient } from './support/test-app';
import {
  connectTo,
  countConnections,
  countDatabases,
  dropAbandonedRunDatabases,
  runId,
  runLockKey,
  TEST_DB_MARKER,
} from './support/test-database';
import { until } from './support/until';

/** An app prefix of a run that is not this one, as `newPrefix` makes them. */
function foreignPrefix(): string {
  for (;;) {
    const run = randomBytes(3).toString('hex');
    if (run !== runId()) return `${TEST_DB_MARKER}${run}${randomBytes(3).toString('hex')}_`;
  }
}

const count = (prefix: string) => withMaintenanceClient((client) => countDatabases(client, prefix));

describe('databases of test runs that did not tear down', () => {
  it("are dropped by a later run's sweep with the run's role, unless their run holds its lock as this one does", async () => {
    const abandoned = foreignPrefix();
    const own = newPrefix();
    const names = [
      `${abandoned}a`,
      `${abandoned.slice(0, -1)}control`,
      `${own}a`,
      `${own.slice(0, -1)}control`,
    ];
    // The role withLimitedRole makes, left by a run that ended inside it; and one of a run whose teardown was
    // killed after dropping its databases.
    const role = `${abandoned.slice(0, 8)}0a1b2c_limited`;
    const roleAlone = `${foreignPrefix().slice(0, 8)}0a1b2c_limited`;
    await withMaintenanceClient(async (client) => {
      for (const name of names) await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      await client.query(`CREATE ROLE ${quoteIdent(role)}`);
      await client.query(`CREATE ROLE ${quoteIdent(roleAlone)}`);
      expect(await tryAdvisoryLock(client, runLockKey(runId()))).toBe(false);
    });

    // A session on one of them (a developer's psql, say): that database is left alone while it is in use.
    const inUse = `${abandoned}b`;
    await withMaintenanceClient((client) => client.query(`CREATE DATABASE ${quoteIdent(inUse)}`));
    const session = await connectTo(inUse);
    try {
      await dropAbandonedRunDatabases();
      // Counted rather than read from what the sweep returns: another run's sweep may have dropped them first.
      expect(await count(abandoned.slice(0, 8))).toBe(1);
      expect(await count(inUse)).toBe(1);
      expect(await count(own.slice(0, -1))).toBe(2);
    } finally {
      await session.end();
    }
    // Once no longer in use (its backend may outlive the client's close a moment), the next sweep drops it.
    const sessions = () => withMaintenanceClient((client) => countConnections(client, inUse));
    await until(async () => (await sessions()) === 0);
    await dropAbandonedRunDatabases();
    expect(await count(abandoned.slice(0, 8))).toBe(0);
    const roles = await withMaintenanceClient(
      async (client) =>
        (await client.query('SELECT 1 FROM pg_roles WHERE rolname = ANY ($1)', [[role, roleAlone]])).rowCount,
    );
    expect(roles).toBe(0);
  });
});
