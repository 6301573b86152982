import { DatabaseServer } from '../src/database/database-server';
import { quoteIdent } from '../src/database/sql-identifiers';
import { serverEnv, withLimitedRole } from './support/test-database';
import { newPrefix, startTestApp, stopTestApp, withMaintenanceClient } from './support/test-app';

/** What the app checks of, and does on, the PostgreSQL server it is given. */
describe('DatabaseServer', () => {
  const env = serverEnv();
  const server = () => new DatabaseServer(env.DB_HOST, Number(env.DB_PORT), env.DB_USER, env.DB_PASSWORD);

  it('creates a database when several processes race to create it, however the losers learn of it', async () => {
    // Both past the existence check, as two processes starting at once are: both send CREATE DATABASE.
    const exists = jest.spyOn(DatabaseServer.prototype, 'databaseExists').mockResolvedValue(false);
    const name = `${newPrefix()}dbrace`;
    try {
      await expect(
        Promise.all([server().ensureDatabase(name), server().ensureDatabase(name)]),
      ).resolves.toEqual([undefined, undefined]);
      // The one that lost after the winner committed: PostgreSQL's duplicate_database.
      await expect(server().ensureDatabase(name)).resolves.toBeUndefined();
    } finally {
      exists.mockRestore();
      await withMaintenanceClient((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`));
    }
  });

  it("keeps a maintenance session that idles through the server's idle_session_timeout", () =>
    withLimitedRole(5, async (role) => {
      await withMaintenanceClient((c) =>
        c.query(`ALTER ROLE ${quoteIdent(role)} SET idle_session_timeout = '200ms'`),
      );
      const limited = new DatabaseServer(env.DB_HOST, Number(env.DB_PORT), role, env.DB_PASSWORD);
      const idled = limited.withAdminClient(async (client) => {
        await new Promise((resolve) => setTimeout(resolve, 700));
        return (await client.query<{ one: number }>('SELECT 1 AS one')).rows;
      });
      await expect(idled).resolves.toEqual([{ one: 1 }]);
    }));

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
