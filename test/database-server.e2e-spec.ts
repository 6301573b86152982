import { DatabaseServer } from '../src/database/database-server';
import { quoteIdent } from '../src/database/sql-identifiers';
import { serverEnv, withLimitedRole } from './support/test-database';
import { newPrefix, startTestApp, stopTestApp, withMaintenanceClient } from './support/test-app';

/** What the app checks of, and does on, the PostgreSQL server it is given. */
describe('DatabaseServer', () => {
  const env = serverEnv();
  const server = () => new DatabaseServer(env.DB_HOST, Number(env.DB_PORT), env.DB_USER, env.DB_PASSWORD);

  it('creates a database once when several processes race to create it', async () => {
    const names = [1, 2, 3].map((i) => `${newPrefix()}dbrace${i}`);
    for (const name of names) {
      // Two processes' servers, each with its own maintenance session, at the same moment.
      await expect(
        Promise.all([server().ensureDatabase(name), server().ensureDatabase(name)]),
      ).resolves.toEqual([undefined, undefined]);
    }
    const found = await withMaintenanceClient(async (client) => {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_database WHERE datname = ANY($1)',
        [names],
      );
      for (const name of names) await client.query(`DROP DATABASE ${quoteIdent(name)}`);
      return rows[0].n;
    });
    expect(found).toBe(names.length);
  });

  it('refuses to start for a role that may not create databases, which every sign-up does', () =>
    withLimitedRole(50, async (role) => {
      const started = startTestApp({ env: { DB_USER: role, TENANT_MAX_OPEN: '5', TENANT_POOL_MAX: '1' } });
      await expect(started).rejects.toThrow(
        `The role ${role} may not create databases, which every sign-up does: give it CREATEDB`,
      );
      await started.then(
        (app) => stopTestApp(app),
        () => undefined,
      );
    }));
});
