import { randomBytes } from 'node:crypto';
import { Client, ClientConfig } from 'pg';
import { advisoryLock, tryAdvisoryLock } from '../../src/database/advisory-lock';
import { DatabaseServer, ServerOptions } from '../../src/database/database-server';
import { quoteIdent } from '../../src/database/sql-identifiers';

/** Every database a test run creates starts with this, so teardown can find them and nothing else. */
export const TEST_DB_MARKER = 'ft';

export function runId(): string {
  const id = process.env.FARM_TEST_RUN_ID;
  if (!id || !/^[a-z0-9]{6}$/.test(id))
    throw new Error('FARM_TEST_RUN_ID is not set: run the tests through jest');
  return id;
}

export function serverEnv(): Record<string, string> {
  return {
    DB_HOST: process.env.DB_HOST ?? '',
    DB_PORT: process.env.DB_PORT ?? '5432',
    DB_USER: process.env.DB_USER ?? 'postgres',
    DB_PASSWORD: process.env.DB_PASSWORD ?? 'postgres',
  };
}

/** The test server as the app sees it given DB_HOST. Stop it when done: it keeps a maintenance connection. */
export function testServer(options?: ServerOptions): DatabaseServer {
  const env = serverEnv();
  return new DatabaseServer(env.DB_HOST, Number(env.DB_PORT), env.DB_USER, env.DB_PASSWORD, options);
}

/** A connected client on one database of the test server (the maintenance database by default). */
export async function connectTo(database = 'postgres', options: ClientConfig = {}): Promise<Client> {
  const env = serverEnv();
  const client = new Client({
    host: env.DB_HOST,
    port: Number(env.DB_PORT),
    user: env.DB_USER,
    password: env.DB_PASSWORD,
    database,
    ...options,
  });
  await client.connect();
  return client;
}

/**
 * A login role `withLimitedRole` creates: the run's id, three random bytes (two suites of a run may each hold one at
 * once), `_limited`. Teardowns drop a run's roles too, should a run end inside `work`.
 */
const limitedRole = (run: string): string =>
  `${TEST_DB_MARKER}${run}${randomBytes(3).toString('hex')}_limited`;
/** What follows the run id in the name of a `withLimitedRole` role (a pattern). */
const LIMITED_ROLE = '[0-9a-f]{6}_limited';

/**
 * Runs `work` with a login role of this run (not a superuser; the test server's password, for where the server does
 * not trust the connection) whose CONNECTION LIMIT is `limit`; drops it afterwards.
 */
export async function withLimitedRole<T>(limit: number, work: (role: string) => Promise<T>): Promise<T> {
  const role = limitedRole(runId());
  const admin = await maintenanceClient();
  try {
    const password = admin.escapeLiteral(serverEnv().DB_PASSWORD);
    await admin.query(
      `CREATE ROLE ${quoteIdent(role)} LOGIN CONNECTION LIMIT ${Math.trunc(limit)} PASSWORD ${password}`,
    );
    try {
      return await work(role);
    } finally {
      await admin.query(`DROP ROLE ${quoteIdent(role)}`);
    }
  } finally {
    await admin.end();
  }
}

export function maintenanceClient(): Promise<Client> {
  return connectTo('postgres');
}

/** The advisory lock a run holds from its global setup to its teardown: other runs leave its databases alone. */
export function runLockKey(id: string): string {
  return `farm-test-run:${id}`;
}

/**
 * Takes this run's lock on a new session, held until the client ends (or the process dies). The session must outlive
 * the run: no idle timeout, TCP keepalive; it shows in pg_stat_activity under the lock's name.
 */
export async function holdRunLock(): Promise<Client> {
  const key = runLockKey(runId());
  const client = await connectTo('postgres', {
    application_name: key,
    keepAlive: true,
    options: '-c idle_session_timeout=0',
  });
  client.on('error', (error) =>
    console.warn(
      `The test run's lock session was lost (${error.message}): a run starting now may drop its databases`,
    ),
  );
  await advisoryLock(client, key);
  return client;
}

/** A test database's name: the marker, the run id, an app's 6 random hex digits, then `_…` or `control`. */
const TEST_DATABASE = '[0-9a-f]{6}(_|control)';

/** Drops every database (and the role) this run created. */
export async function dropRunDatabases(): Promise<void> {
  await dropDatabasesMatching(`^${TEST_DB_MARKER}${runId()}`, true);
  const client = await maintenanceClient();
  try {
    await dropRoles(client, [runId()]);
  } finally {
    await client.end();
  }
}

/**
 * Drops the databases (and role) of earlier runs that ended without their teardown (Ctrl-C, a killed process): those
 * of every run whose lock no session holds (this run holds its own). A database still in use is left alone. Returns
 * the ids of those runs.
 */
export async function dropAbandonedRunDatabases(): Promise<string[]> {
  const client = await maintenanceClient();
  try {
    // Runs with databases, or with only a role left (a teardown killed between its drops).
    const { rows } = await client.query<{ run: string }>(
      `SELECT substr(datname, 3, 6) AS run FROM pg_database WHERE datname ~ $1
        UNION SELECT substr(rolname, 3, 6) FROM pg_roles WHERE rolname ~ $2`,
      [`^${TEST_DB_MARKER}[0-9a-f]{6}${TEST_DATABASE}`, `^${TEST_DB_MARKER}[0-9a-f]{6}${LIMITED_ROLE}$`],
    );
    const abandoned: string[] = [];
    for (const { run } of rows) {
      if (await tryAdvisoryLock(client, runLockKey(run))) abandoned.push(run);
    }
    // The locks taken are held until the drops are done, so that no run with the same id can start meanwhile.
    if (abandoned.length > 0) {
      await dropDatabasesMatching(`^${TEST_DB_MARKER}(${abandoned.join('|')})${TEST_DATABASE}`, false);
      await dropRoles(client, abandoned);
    }
    return abandoned;
  } finally {
    await client.end();
  }
}

/** Drops the runs' `withLimitedRole` roles, where a run ended inside `work` and left one. */
async function dropRoles(client: Client, runs: string[]): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    'SELECT rolname AS name FROM pg_roles WHERE rolname ~ $1',
    [`^${TEST_DB_MARKER}(${runs.join('|')})${LIMITED_ROLE}$`],
  );
  for (const { name } of rows) await client.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
}

/**
 * Drops the databases whose names match the regular expression, four at a time on four sessions: each DROP DATABASE
 * waits for a checkpoint, and drops waiting at once share the next one. With `force`, sessions on them are ended;
 * without, a database in use (55006) is skipped.
 */
async function dropDatabasesMatching(pattern: string, force: boolean): Promise<void> {
  const clients = await Promise.all(Array.from({ length: 4 }, () => maintenanceClient()));
  try {
    const { rows } = await clients[0].query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname ~ $1',
      [pattern],
    );
    const queue = rows.map((row) => row.datname);
    await Promise.all(
      clients.map(async (client) => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
          await client
            .query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${force ? ' WITH (FORCE)' : ''}`)
            .catch((error: { code?: string }) => {
              if (force || error.code !== '55006') throw error;
            });
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

export async function countDatabases(client: Client, prefix: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    'SELECT count(*) AS n FROM pg_database WHERE starts_with(datname, $1)',
    [prefix],
  );
  return Number(rows[0].n);
}

/** Tenant databases of an app: its prefix, minus the template and the spares (`<prefix>_...`). */
export async function countTenantDatabases(client: Client, prefix: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_database WHERE starts_with(datname, $1) AND NOT starts_with(datname, $1 || '_')",
    [prefix],
  );
  return Number(rows[0].n);
}

/** Connections PostgreSQL holds open to the databases whose names start with `prefix`. */
export async function countConnections(client: Client, prefix: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    'SELECT count(*) AS n FROM pg_stat_activity WHERE starts_with(datname, $1) AND pid <> pg_backend_pid()',
    [prefix],
  );
  return Number(rows[0].n);
}

/** Backends waiting for one of these advisory locks (keys as the app passes them to hashtext). */
async function lockWaiters(client: Client, keys: string[]): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
       AND objid IN (SELECT (hashtext(key)::bigint & 4294967295)::oid FROM unnest($1::text[]) AS key)`,
    [keys],
  );
  return rows[0].n;
}

/**
 * How many backends wait for one of these advisory locks (held by `client`) once `expected` of them do (or 5 s
 * passed), and a further half second, when any other attempt would have arrived.
 */
export async function settledLockWaiters(client: Client, keys: string[], expected: number): Promise<number> {
  for (let tries = 0; (await lockWaiters(client, keys)) < expected && tries < 200; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  return lockWaiters(client, keys);
}

/**
 * How many backends of `database` wait for a lock, read on a connection of its own: pg_stat_activity read inside a
 * transaction is a snapshot taken at its first read, which a session holding locks would keep seeing. `connect`
 * reaches another server than the test server.
 */
export async function lockWaitersIn(
  database: string,
  connect: () => Promise<Client> = maintenanceClient,
): Promise<number> {
  const client = await connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
      [database],
    );
    return rows[0].n;
  } finally {
    await client.end();
  }
}
