import { MikroORM } from '@mikro-orm/postgresql';
import { Logger } from '@nestjs/common';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { Client } from 'pg';
import { isServerUnavailable } from '../src/common/error-text';
import { advisoryLock, tryAdvisoryLock } from '../src/database/advisory-lock';
import { DatabaseServer, ServerOptions } from '../src/database/database-server';
import { controlOrmOptions } from '../src/organizations/control-orm.config';
import { TenantOrmFactory } from '../src/tenancy/tenant-orm.factory';
import { quoteIdent } from '../src/database/sql-identifiers';
import { SilentProxy } from './support/silent-proxy';
import { serverEnv, testServer, withLimitedRole } from './support/test-database';
import { newPrefix, startTestApp, stopTestApp, withMaintenanceClient } from './support/test-app';
import { failAfter, until } from './support/until';

const backendPid = async (client: Client): Promise<number> =>
  (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;

/** Whether the backend is still connected. */
const connected = (pid: number): Promise<boolean> =>
  withMaintenanceClient(async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    return rowCount === 1;
  });

/**
 * Runs `work` with a DatabaseServer (connectTimeoutMs 500) on a listener that accepts connections and never answers
 * (a hung server, or a proxy before a server that is down), given the listener's port and the sockets it accepted.
 */
async function withMuteServer(
  work: (silent: DatabaseServer, port: number, accepted: Set<Socket>) => Promise<void>,
): Promise<void> {
  const env = serverEnv();
  const accepted = new Set<Socket>();
  const mute = createServer((socket) => {
    accepted.add(socket);
    socket.on('error', () => undefined);
    // Reads what the client sends (and answers nothing), so that its close is seen (readableEnded).
    socket.resume();
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const port = (mute.address() as AddressInfo).port;
  const silent = new DatabaseServer('127.0.0.1', port, env.DB_USER, env.DB_PASSWORD, {
    connectTimeoutMs: 500,
  });
  try {
    await work(silent, port, accepted);
  } finally {
    await silent.stop();
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => mute.close(resolve));
  }
}

/** What the app checks of, and does on, the PostgreSQL server it is given. */
describe('DatabaseServer', () => {
  const env = serverEnv();
  const servers: DatabaseServer[] = [];
  const server = (options?: ServerOptions) => {
    const made = testServer(options);
    servers.push(made);
    return made;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((made) => made.stop()));
  });

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
      const warn = jest.spyOn(Logger.prototype, 'warn');
      try {
        let pid = 0;
        const idled = limited.withAdminClient(async (client) => {
          pid = await backendPid(client);
          await new Promise((resolve) => setTimeout(resolve, 700));
          return (await client.query<{ one: number }>('SELECT 1 AS one')).rows;
        });
        await expect(idled).resolves.toEqual([{ one: 1 }]);
        // Kept for the next session, the connection idles under the server's timeout, which ends it.
        await until(async () => !(await connected(pid)));
        expect(await connected(pid)).toBe(false);
        const next = await limited.withAdminClient(backendPid);
        expect(next).not.toBe(pid);
        // Dropped as it was ended while kept, not reported as a session lost at work.
        expect(warn.mock.calls.flat().join('\n')).not.toContain('lost');
      } finally {
        warn.mockRestore();
        await limited.stop();
      }
    }));

  it("keeps a maintenance session's connection for the next session, with nothing of its own left", async () => {
    const maintenance = server();
    const key = `farm-management:${newPrefix()}kept`;
    const first = await maintenance.withAdminClient(async (client) => {
      await client.query("SET lock_timeout = '1234ms'");
      await advisoryLock(client, key);
      return backendPid(client);
    });
    // The session's lock is released while its connection lives on.
    expect(await connected(first)).toBe(true);
    await withMaintenanceClient(async (other) => {
      expect(await tryAdvisoryLock(other, key)).toBe(true);
    });
    const next = await maintenance.withAdminClient(async (client) => ({
      pid: await backendPid(client),
      settings: (
        await client.query<{ lock: string; idle: string }>(
          "SELECT current_setting('lock_timeout') AS lock, current_setting('idle_session_timeout') AS idle",
        )
      ).rows[0],
    }));
    expect(next).toEqual({ pid: first, settings: { lock: '0', idle: '0' } });
    await maintenance.stop();
    await until(async () => !(await connected(first)));
    expect(await connected(first)).toBe(false);
  });

  it('closes a maintenance connection whose work failed or left a transaction open, and one kept too long', async () => {
    const maintenance = server({ maintenanceIdleMs: 2_000 });
    let failed = 0;
    await expect(
      maintenance.withAdminClient(async (client) => {
        failed = await backendPid(client);
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    const open = await maintenance.withAdminClient(async (client) => {
      await client.query('BEGIN');
      return backendPid(client);
    });
    const kept = await maintenance.withAdminClient(backendPid);
    expect(await connected(kept)).toBe(true);
    expect(new Set([failed, open, kept]).size).toBe(3);
    await until(async () => !(await connected(failed)) && !(await connected(open)));
    expect([await connected(failed), await connected(open)]).toEqual([false, false]);
    await until(async () => !(await connected(kept)));
    expect(await connected(kept)).toBe(false);
  });

  it('gives up a silent maintenance connection after maintenanceTimeoutMs: its reset, its check, its close', async () => {
    const timeoutMs = 1_000;
    const proxy = await SilentProxy.start();
    const silent = new DatabaseServer('127.0.0.1', proxy.port, env.DB_USER, env.DB_PASSWORD, {
      maintenanceTimeoutMs: timeoutMs,
    });
    const admin = 'farm-management:admin';
    /** What `work` gave and how long it took after this call (it waits at least the limit for a silent connection). */
    const timed = async <T>(work: Promise<T>): Promise<[T, number]> => {
      const started = performance.now();
      const result = await Promise.race([work, failAfter(3_000, 'Not done within 3 s')]);
      return [result, performance.now() - started];
    };
    const atLeastTheLimit = timeoutMs - 20;
    try {
      // Silent before its reset: the session's result stands, and the connection is closed, not kept.
      const [done, resetMs] = await timed(
        silent.withAdminClient(() => {
          expect(proxy.silence(admin)).toBe(1);
          return Promise.resolve('done');
        }),
      );
      expect(done).toBe('done');
      expect(resetMs).toBeGreaterThanOrEqual(atLeastTheLimit);
      await until(() => proxy.connections(admin) === 0);
      expect(proxy.connections(admin)).toBe(0);
      // Kept, then silent: the next session's check gives it up and connects anew.
      await silent.withAdminClient(backendPid);
      expect(proxy.connections(admin)).toBe(1);
      expect(proxy.silence(admin)).toBe(1);
      const [pid, checkMs] = await timed(silent.withAdminClient(backendPid));
      expect(pid).toBeGreaterThan(0);
      expect(checkMs).toBeGreaterThanOrEqual(atLeastTheLimit);
      expect([proxy.connectionsMade(admin), proxy.connections(admin)]).toEqual([3, 1]);
      // Kept, then silent: stopping gives up its close, which the server never answers.
      expect(proxy.silence(admin)).toBe(1);
      const [, closeMs] = await timed(silent.stop());
      expect(closeMs).toBeGreaterThanOrEqual(atLeastTheLimit);
    } finally {
      await proxy.close();
      await silent.stop();
    }
  });

  it('gives up a connection the server never completes after connectTimeoutMs, as the server unavailable', () =>
    withMuteServer(async (silent, port) => {
      const started = performance.now();
      const failed = await Promise.race([
        silent.withAdminClient(() => Promise.resolve('connected')).catch((error: unknown) => error),
        failAfter(3_000, 'Not given up within 3 s'),
      ]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(480);
      expect(failed).toMatchObject({
        code: 'ETIMEDOUT',
        message: `PostgreSQL at 127.0.0.1:${port} did not answer within 500 ms (timeout expired)`,
      });
      expect(isServerUnavailable(failed)).toBe(true);
    }));

  it.each(['a tenant ORM', 'the control ORM'] as const)(
    "gives up a connection of %s's pool that the server never completes after connectTimeoutMs, closing it",
    (which) =>
      withMuteServer(async (silent, _port, accepted) => {
        const config = {
          DB_NAME: `${newPrefix()}control`,
          CONTROL_POOL_MAX: 1,
          TENANT_POOL_MAX: 1,
          TENANT_POOL_IDLE_MS: 1000,
          DB_STATEMENT_TIMEOUT_MS: 0,
          DB_MIGRATION_LOCK_TIMEOUT_MS: 0,
        };
        const orm =
          which === 'a tenant ORM'
            ? new TenantOrmFactory(silent, config).create(`${newPrefix()}mute`, 'tenant:mute')
            : await MikroORM.init(controlOrmOptions(silent, config));
        try {
          const started = performance.now();
          const failed = await Promise.race([
            orm.em
              .getConnection()
              .execute('SELECT 1')
              .catch((error: unknown) => error),
            failAfter(5_000, 'Not given up within 5 s'),
          ]);
          expect(performance.now() - started).toBeGreaterThanOrEqual(480);
          expect(isServerUnavailable(failed)).toBe(true);
          // Each attempt's socket is closed by the client (the pool's own 30 s limit would have left it open).
          const closedByClient = () => [...accepted].every((socket) => socket.readableEnded);
          expect(accepted.size).toBeGreaterThan(0);
          await until(closedByClient);
          expect(closedByClient()).toBe(true);
        } finally {
          await orm.close(true);
        }
      }),
  );

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
