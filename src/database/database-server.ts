import { Options, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Logger } from '@nestjs/common';
import { Client, ClientConfig, QueryConfig } from 'pg';
import { describeError } from '../common/error-text';
import { Semaphore } from '../common/semaphore';
import { AppConfig } from '../config/app-config';
import { startEmbeddedPostgres } from './embedded-postgres';
import { quoteIdent } from './sql-identifiers';

/** PostgreSQL's undefined_table: a table (such as the migrations' record of a database never migrated) missing. */
export const UNDEFINED_TABLE = '42P01';
const DUPLICATE_DATABASE = '42P04';
const UNIQUE_VIOLATION = '23505';

const logger = new Logger('DatabaseServer');

/** The oldest PostgreSQL the app runs on (server_version_num): 15, for `CREATE DATABASE ... STRATEGY`. */
export const OLDEST_SERVER_VERSION = 150000;

/** What `checkSignUpPrerequisites` reads of the server and the role. */
export interface ServerFacts {
  versionNum: number;
  version: string;
  createsDatabases: boolean;
}

/** Why the server or the role `user` cannot serve sign-ups, or undefined when they can. */
export function signUpPrerequisiteProblem(facts: ServerFacts, user: string): string | undefined {
  if (facts.versionNum < OLDEST_SERVER_VERSION) {
    return (
      `PostgreSQL ${OLDEST_SERVER_VERSION / 10_000} or later is needed (sign-ups clone databases with ` +
      `CREATE DATABASE ... STRATEGY); the server runs ${facts.version}`
    );
  }
  if (!facts.createsDatabases) {
    return `The role ${user} may not create databases, which every sign-up does: give it CREATEDB`;
  }
  return undefined;
}

/** node-postgres's error for a query sent on a client whose connection is gone. */
const NOT_QUERYABLE = /is not queryable$/;

/**
 * TCP keepalive for every connection to the server (pg's options): a server that vanished without a FIN or RST (a
 * failover that moved its address, a host that died) is noticed by the kernel's probes, which Node sends 10 s after
 * the last traffic, then every second, 10 in all. Without them a connection waiting for a query's answer would wait
 * for good, holding its tenant's slot or its maintenance session. On a Unix socket they do nothing.
 */
const KEEPALIVE: Pick<ClientConfig, 'keepAlive' | 'keepAliveInitialDelayMillis'> = {
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
};

/** The socket options of every connection to the server (see DatabaseServer.socketOptions). */
export type SocketOptions = typeof KEEPALIVE & { connectionTimeoutMillis: number };

/** PostgreSQL's undefined_object: here, a setting the server does not have (idle_session_timeout before 14). */
const UNDEFINED_OBJECT = '42704';

/**
 * Lifts a server-wide idle_session_timeout for a session that may idle while it matters: a maintenance session holds
 * advisory locks while its work goes on elsewhere (a migration on the tenant's own connection, a control-plane
 * write), the change listener waits for notifications; ended, it would take its locks or the cache's freshness with
 * it. A statement, not a startup parameter, which PgBouncer refuses unless told to ignore it.
 */
export async function keepWhileIdle(client: Client, timeoutMs?: number): Promise<void> {
  await client.query(limited('SET idle_session_timeout = 0', timeoutMs)).catch((error: { code?: string }) => {
    if (error.code !== UNDEFINED_OBJECT) throw error;
  });
}

/**
 * How long a connection of ours (a maintenance session's, the change listener's, one of an ORM's pool) may take to be
 * made (TCP, startup, authentication) before it is given up and its socket closed: a server that accepts connections
 * but never answers (a hung server, a proxy before one that is down) would hold it for good, or an ORM's pool for
 * its own 30 s, leaving the socket open. Longer than a statement's limits: a healthy server under a storm of
 * connections may drop an attempt, which the client's kernel repeats after 1 and 3 s.
 */
const CONNECT_TIMEOUT_MS = 10_000;
/** What pg's own timeouts say: a connection's (connectionTimeoutMillis) and a statement's (query_timeout). */
const PG_TIMEOUTS = new Set(['timeout expired', 'Query read timeout']);

/** A statement whose answer pg waits for at most `timeoutMs` (its query_timeout, which @types/pg omits). */
function limited(text: string, timeoutMs?: number): QueryConfig {
  const statement: QueryConfig & { query_timeout?: number } = { text, query_timeout: timeoutMs };
  return statement;
}

/**
 * Ends a client's session, waiting at most `timeoutMs` for the server to close its side: then the socket is
 * destroyed, as a server gone without closing it (a failover that moved its address) never will. After a statement
 * that timed out, pg destroys the socket at once (the statement still counts as under way).
 */
export async function endWithin(client: Client, timeoutMs: number): Promise<void> {
  const deadline = setTimeout(() => client.connection.stream.destroy(), timeoutMs);
  await client.end().catch(() => undefined);
  clearTimeout(deadline);
}

/** Whether the statement ran. */
const succeeds = (statement: Promise<unknown>): Promise<boolean> =>
  statement.then(
    () => true,
    () => false,
  );

/** pg's Client lets the process exit while its socket idles (pg-pool's `allowExitOnIdle`); @types/pg omits it. */
type ReferencedClient = Client & { ref(): void; unref(): void };

/** A maintenance session's connection. */
interface MaintenanceConnection {
  client: ReferencedClient;
  /** What the client emitted when the server ended the session, if it has. */
  lost?: Error;
  /** While kept for the next session: what closes it. */
  idleTimer?: NodeJS.Timeout;
}

export interface ServerOptions {
  /** Maintenance sessions at once (default 1). */
  maintenanceSessions?: number;
  /** How long a maintenance connection is kept for the next session (default 30 s, as the control plane pool's). */
  maintenanceIdleMs?: number;
  /**
   * How long a maintenance connection may take to be reset, to answer its check when taken back, or to close, before
   * it is given up (closed, its socket destroyed; default 5 s): a server gone without closing the socket (a failover
   * that moved its address) would otherwise hold the session, or a shutdown, until TCP gives up retransmitting, some
   * 15 minutes (keepalive probes do not run while data is unacknowledged).
   */
  maintenanceTimeoutMs?: number;
  /** How long a connection to the server may take to be made (default CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /** Stops the embedded server this process started. */
  stopEmbedded?: () => Promise<void>;
}

/**
 * Where PostgreSQL is, whether configured (`DB_HOST`) or embedded, and how to reach its maintenance database.
 * Maintenance work (CREATE/DROP/ALTER DATABASE, migration locks) runs in sessions, at most `maintenanceSessions`
 * at once per process (the app's DB_MAINTENANCE_SESSIONS); a session holds one connection to the `postgres`
 * database and may open one more to a database it prepares (a migration of the template, a spare or a new
 * tenant), so maintenance takes at most twice as many connections (those to `postgres` kept between sessions
 * included: never more than `maintenanceSessions`). A session never opens another session.
 */
export class DatabaseServer {
  private readonly sessions: Semaphore;
  private readonly stopEmbedded?: () => Promise<void>;
  private readonly maintenanceIdleMs: number;
  private readonly maintenanceTimeoutMs: number;
  /**
   * The socket options of every connection of ours to the server, pg's: TCP keepalive (KEEPALIVE) and the limit on
   * making it (`connectTimeoutMs`). The ORMs' pools take them as their driver's connection options.
   */
  readonly socketOptions: SocketOptions;
  /** Maintenance connections kept after their work, the last one kept at the end. */
  private readonly idle: MaintenanceConnection[] = [];
  private stopped = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly user: string,
    readonly password: string,
    options: ServerOptions = {},
  ) {
    this.sessions = new Semaphore(options.maintenanceSessions ?? 1);
    this.maintenanceIdleMs = options.maintenanceIdleMs ?? 30_000;
    this.maintenanceTimeoutMs = options.maintenanceTimeoutMs ?? 5_000;
    this.socketOptions = {
      ...KEEPALIVE,
      connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    };
    this.stopEmbedded = options.stopEmbedded;
  }

  /** Connection options of a MikroORM instance on this server. */
  ormConnection(): Pick<Options, 'driver' | 'host' | 'port' | 'user' | 'password'> {
    return {
      driver: PostgreSqlDriver,
      host: this.host,
      port: this.port,
      user: this.user,
      password: this.password,
    };
  }

  /** A client of one database on this server, not yet connected. */
  client(database: string, applicationName: string, options: ClientConfig = {}): Client {
    return new Client({
      host: this.host,
      port: this.port,
      user: this.user,
      password: this.password,
      database,
      application_name: applicationName,
      ...this.socketOptions,
      ...options,
    });
  }

  /**
   * Runs `work` in a maintenance session: once one is free (waiting at most `waitMs`, else SemaphoreTimeoutError),
   * on a client of the `postgres` maintenance database. Its connection is then reset (`DISCARD ALL`: the
   * session-level advisory locks it took, its settings) and kept `maintenanceIdleMs` for the next session, as a
   * new backend costs the server more than most sessions' work (a sign-up's, `tenants:migrate`'s per tenant); one
   * whose work failed, that was lost or that cannot be reset (a transaction left open) is closed instead. `work`
   * leaves the client as it found it on the client's side: no listeners, no named statements.
   */
  withAdminClient<T>(work: (client: Client) => Promise<T>, waitMs?: number): Promise<T> {
    return this.sessions.use(async () => {
      const connection = await this.maintenanceConnection();
      let reusable = false;
      try {
        const result = await this.runOn(connection, work);
        reusable = true;
        return result;
      } finally {
        await this.putBack(connection, reusable);
      }
    }, waitMs);
  }

  /** The connection kept last if it still answers, or else a new one. */
  private async maintenanceConnection(): Promise<MaintenanceConnection> {
    for (;;) {
      const kept = this.idle.at(-1);
      if (!kept) return this.connect('postgres');
      this.unkeep(kept);
      // Also the check that the server has not ended it meanwhile (its idle_session_timeout applies while kept).
      if (await succeeds(keepWhileIdle(kept.client, this.maintenanceTimeoutMs))) return kept;
      await this.close(kept.client);
    }
  }

  private async putBack(connection: MaintenanceConnection, reusable: boolean): Promise<void> {
    const reset =
      reusable &&
      connection.lost === undefined &&
      (await succeeds(connection.client.query(limited('DISCARD ALL', this.maintenanceTimeoutMs))));
    if (!reset || this.stopped) {
      await this.close(connection.client);
      return;
    }
    // Kept, it does not keep the process alive (nor does its timer).
    connection.client.unref();
    connection.idleTimer = setTimeout(() => void this.dropKept(connection), this.maintenanceIdleMs).unref();
    this.idle.push(connection);
  }

  /** Takes a connection back from the kept ones (referenced again: its work keeps the process alive); if it was. */
  private unkeep(connection: MaintenanceConnection): boolean {
    const at = this.idle.indexOf(connection);
    if (at < 0) return false;
    this.idle.splice(at, 1);
    clearTimeout(connection.idleTimer);
    connection.client.ref();
    return true;
  }

  /** Closes a kept connection (not one in use). */
  private async dropKept(connection: MaintenanceConnection): Promise<void> {
    if (this.unkeep(connection)) await this.close(connection.client);
  }

  /** Closes a maintenance connection within `maintenanceTimeoutMs` (endWithin). */
  private close(client: Client): Promise<void> {
    return endWithin(client, this.maintenanceTimeoutMs);
  }

  /** Runs `work` on a maintenance connection to `database` of its own, closed afterwards. */
  private async withClient<T>(database: string, work: (client: Client) => Promise<T>): Promise<T> {
    const connection = await this.connect(database);
    try {
      return await this.runOn(connection, work);
    } finally {
      await this.close(connection.client);
    }
  }

  /**
   * A maintenance connection to `database`, kept through idle spells (keepWhileIdle). Should the server end the
   * session (a restart, `pg_terminate_backend`, its idle_session_timeout while kept), the client emits an error,
   * which with no listener would be thrown out of the socket's callback and end the process: it is recorded here,
   * and logged unless the connection was kept idle (it is dropped then).
   */
  private async connect(database: string): Promise<MaintenanceConnection> {
    const client = this.client(database, 'farm-management:admin') as ReferencedClient;
    const connection: MaintenanceConnection = { client };
    client.on('error', (error) => {
      connection.lost ??= error;
      if (this.idle.includes(connection)) void this.dropKept(connection);
      else logger.warn(`Maintenance session in ${database} lost: ${describeError(error)}`);
    });
    await client.connect().catch((error: unknown) => {
      throw this.unanswered(error, this.socketOptions.connectionTimeoutMillis);
    });
    try {
      await keepWhileIdle(client, this.maintenanceTimeoutMs);
    } catch (error) {
      await this.close(client);
      throw this.unanswered(error, this.maintenanceTimeoutMs);
    }
    return connection;
  }

  /**
   * pg's own timeouts (`timeout expired` for a connection, `Query read timeout` for a statement) as the server
   * unavailable (ETIMEDOUT, see isServerUnavailable): as pg words them they name neither the server nor a cause.
   */
  private unanswered(error: unknown, timeoutMs: number): unknown {
    if (!(error instanceof Error) || !PG_TIMEOUTS.has(error.message)) return error;
    const unanswered = new Error(
      `PostgreSQL at ${this.host}:${this.port} did not answer within ${timeoutMs} ms (${error.message})`,
      { cause: error },
    );
    return Object.assign(unanswered, { code: 'ETIMEDOUT' });
  }

  /**
   * Runs `work` on the connection. Should the session be lost meanwhile, a query in flight fails with the server's
   * error; one sent after the loss with pg's "not queryable", which says nothing of the server, so that failure is
   * replaced by the loss (the session's locks went with it). Any other failure of `work` is its own, and stays as
   * it is.
   */
  private async runOn<T>(
    connection: MaintenanceConnection,
    work: (client: Client) => Promise<T>,
  ): Promise<T> {
    try {
      return await work(connection.client);
    } catch (error) {
      const { lost } = connection;
      if (lost === undefined || !NOT_QUERYABLE.test(error instanceof Error ? error.message : '')) throw error;
      throw new Error(`The maintenance session was lost: ${describeError(lost)}`, { cause: lost });
    }
  }

  async databaseExists(client: Client, name: string): Promise<boolean> {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  }

  /** Whether `table` of the database exists and holds a row, read on a connection of its own (closed afterwards). */
  hasRows(database: string, table: string): Promise<boolean> {
    return this.withClient(database, async (client) => {
      try {
        const { rows } = await client.query<{ found: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM ${quoteIdent(table)}) AS found`,
        );
        return rows[0].found;
      } catch (error) {
        if ((error as { code?: string }).code === UNDEFINED_TABLE) return false;
        throw error;
      }
    });
  }

  /**
   * Creates the database unless it exists, on `client` (a maintenance client) or in a maintenance session of its
   * own; safe when several processes race to create it (the loser of a race PostgreSQL's own check does not see
   * fails on pg_database's unique index instead of with duplicate_database).
   */
  async ensureDatabase(name: string, client?: Client): Promise<void> {
    if (!client) return this.withAdminClient((own) => this.ensureDatabase(name, own));
    if (await this.databaseExists(client, name)) return;
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== DUPLICATE_DATABASE && code !== UNIQUE_VIOLATION) throw error;
    }
  }

  /**
   * Throws unless the server lets this role open `ceiling` connections: its max_connections less
   * superuser_reserved_connections and (PostgreSQL 16+) reserved_connections when the role is not a superuser, and
   * at most the role's own CONNECTION LIMIT. Beyond them the server refuses connections (53300) under
   * load: requests, sign-ups and the change listener fail then instead of waiting for a slot.
   */
  async checkRoomFor(client: Client, ceiling: number, settings: string, lower: string): Promise<void> {
    const { rows } = await client.query<{ allowed: number }>(
      `SELECT least(
                current_setting('max_connections')::int - CASE WHEN r.rolsuper THEN 0 ELSE
                  current_setting('superuser_reserved_connections')::int
                  + coalesce(current_setting('reserved_connections', true)::int, 0) END,
                CASE WHEN r.rolconnlimit >= 0 AND NOT r.rolsuper THEN r.rolconnlimit END) AS allowed
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const { allowed } = rows[0];
    if (ceiling > allowed) {
      throw new Error(
        `This process may open ${ceiling} connections (${settings}), more than the server lets ${this.user} open ` +
          `(${allowed}: max_connections less the reserved ones, or the role's connection limit); lower ${lower}`,
      );
    }
  }

  /**
   * Throws unless the server and this role can do what every sign-up does: PostgreSQL OLDEST_SERVER_VERSION or later
   * (a tenant's database is cloned with `CREATE DATABASE ... STRATEGY`) and a role that may create databases.
   * Without them the app would start and answer ready while every sign-up failed.
   */
  async checkSignUpPrerequisites(client: Client): Promise<void> {
    const { rows } = await client.query<ServerFacts>(
      `SELECT current_setting('server_version_num')::int AS "versionNum",
              current_setting('server_version') AS version,
              r.rolsuper OR r.rolcreatedb AS "createsDatabases"
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const problem = signUpPrerequisiteProblem(rows[0], this.user);
    if (problem) throw new Error(problem);
  }

  /**
   * Closes the kept maintenance connections (later sessions close theirs when done), then stops the embedded server
   * if this process started it: the app last in its shutdown, command-line tools on exit.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.idle].map((connection) => this.dropKept(connection)));
    await this.stopEmbedded?.();
  }

  /**
   * Resolves the server from the configuration. When `DB_HOST` is unset, an embedded server already running on
   * EMBEDDED_PG_DIR is joined, else one is started unless `startEmbedded` is false. Maintenance sessions:
   * DB_MAINTENANCE_SESSIONS unless given. `stopOnSignals: false` leaves the stop of a started server to the caller
   * (the app's shutdown) instead of the embedded-postgres package's signal hook.
   */
  static async fromConfig(
    config: AppConfig,
    {
      startEmbedded = true,
      maintenanceSessions = config.DB_MAINTENANCE_SESSIONS,
      stopOnSignals = true,
    }: { startEmbedded?: boolean; maintenanceSessions?: number; stopOnSignals?: boolean } = {},
  ): Promise<DatabaseServer> {
    if (config.DB_HOST) {
      return new DatabaseServer(config.DB_HOST, config.DB_PORT, config.DB_USER, config.DB_PASSWORD, {
        maintenanceSessions,
      });
    }
    const embedded = await startEmbeddedPostgres(config.EMBEDDED_PG_DIR, config.EMBEDDED_PG_PORT, {
      startIfMissing: startEmbedded,
      stopOnSignals,
    });
    return new DatabaseServer(embedded.host, embedded.port, embedded.user, embedded.password, {
      maintenanceSessions,
      stopEmbedded: () => embedded.stop(),
    });
  }
}
