import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { statSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { failAfter } from './support/until';

interface Server {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** An OS user and group other than root's: `nobody` on Linux. */
const UNPRIVILEGED = { uid: 65534, gid: 65534 };

/** Runs test/support/embedded-server.ts (as `user` if given); resolves with the server it started or joined. */
function serverProcess(
  dir: string,
  mode: 'start' | 'join',
  user: { uid?: number; gid?: number } = {},
): Promise<{ child: ChildProcess; server: Server }> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'test/support/embedded-server.ts', dir, mode],
    { stdio: ['pipe', 'pipe', 'inherit'], env: withoutLocale(), ...user },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^SERVER (.*)$/m.exec(output);
      if (line) resolve({ child, server: JSON.parse(line[1]) as Server });
    });
    child.once('exit', (code) => reject(new Error(`embedded-server exited with ${code}: ${output}`)));
  });
}

/** The environment without its locale settings, as in a bare container: initdb would then choose SQL_ASCII. */
function withoutLocale(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(LANG|LANGUAGE|LC_\w+)$/.test(name)),
  );
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin?.end();
  await exited;
}

/** What runs without DB_HOST (`npm start`, `npm test` on a machine with only Node.js): a server of its own. */
describe('embedded PostgreSQL', () => {
  let dir: string;
  let owner: ChildProcess | undefined;
  let server: Server;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fm-pg-'));
    ({ child: owner, server } = await serverProcess(dir, 'start'));
  }, 120_000);

  afterAll(async () => {
    await stop(owner);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  /** The first row of `sql`, run on a connection of its own. */
  const firstRow = async <T extends object>(host: string, password: string, sql: string): Promise<T> => {
    const client = new Client({ host, port: server.port, user: server.user, password, database: 'postgres' });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows[0];
    } finally {
      await client.end();
    }
  };

  /** Whether the connection came over the Unix socket (no client address). */
  const viaSocket = async (host: string, password: string): Promise<boolean> =>
    (await firstRow<{ unix: boolean }>(host, password, 'SELECT inet_client_addr() IS NULL AS unix')).unix;

  it('is reached over a Unix socket in its data directory, which it trusts', async () => {
    expect(server.host).toBe(dir);
    expect(await viaSocket(server.host, 'not the password')).toBe(true);
  });

  it('checks each database for autovacuum every 10 minutes, as one database per tenant needs', async () => {
    const { setting } = await firstRow<{ setting: string }>(
      server.host,
      server.password,
      "SELECT setting FROM pg_settings WHERE name = 'autovacuum_naptime'",
    );
    expect(setting).toBe('600');
  });

  it('makes UTF8 databases with Unicode case mapping, whatever the locale it was started in (here none)', async () => {
    const row = await firstRow<Record<string, string | number>>(
      server.host,
      server.password,
      `SELECT pg_encoding_to_char(encoding) AS encoding, datlocprovider AS provider,
              upper('crème brûlée') AS upper, length('🍅') AS length
         FROM pg_database WHERE datname = 'template1'`,
    );
    expect(row).toEqual({ encoding: 'UTF8', provider: 'b', upper: 'CRÈME BRÛLÉE', length: 1 });
  });

  it('keeps password authentication on TCP', async () => {
    expect(await viaSocket('127.0.0.1', server.password)).toBe(false);
    await expect(viaSocket('127.0.0.1', 'not the password')).rejects.toThrow(
      /password authentication failed/,
    );
  });

  it('is joined by another process through its socket', async () => {
    const joined = await serverProcess(dir, 'join');
    try {
      expect({ host: joined.server.host, port: joined.server.port }).toEqual({
        host: dir,
        port: server.port,
      });
      expect(await viaSocket(joined.server.host, joined.server.password)).toBe(true);
    } finally {
      await stop(joined.child);
    }
    // The joining process left the server running.
    expect(await viaSocket(server.host, server.password)).toBe(true);
  });

  // As most people run it: root is the exception (the package then runs PostgreSQL as the OS user `postgres`).
  it('starts for a user other than root, as that user', async () => {
    const own = await mkdtemp(join(tmpdir(), 'fm-pg-user-'));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await chown(own, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
    let child: ChildProcess | undefined;
    try {
      const started = await serverProcess(join(own, 'data'), 'start', asRoot ? UNPRIVILEGED : {});
      child = started.child;
      // PostgreSQL wrote its data as that user.
      expect(statSync(join(own, 'data', 'PG_VERSION')).uid).toBe(
        asRoot ? UNPRIVILEGED.uid : process.getuid?.(),
      );
      const { host, port, password } = started.server;
      const client = new Client({ host, port, user: 'postgres', password, database: 'postgres' });
      await client.connect();
      try {
        const { rows } = await client.query<{ answer: number }>('SELECT 1 + 1 AS answer');
        expect(rows[0].answer).toBe(2);
      } finally {
        await client.end();
      }
    } finally {
      await stop(child);
      await rm(own, { recursive: true, force: true });
    }
  }, 120_000);

  it('says why it did not start, from what PostgreSQL logged (here: its port in use)', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    const other = await mkdtemp(join(tmpdir(), 'fm-pg-fail-'));
    try {
      const child = spawn(
        process.execPath,
        [
          '-r',
          'ts-node/register/transpile-only',
          'test/support/embedded-server.ts',
          other,
          'start',
          String(port),
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      try {
        const [code] = (await Promise.race([
          once(child, 'exit'),
          failAfter(60_000, 'the server process did not exit'),
        ])) as [number | null];
        expect(code).toBe(1);
      } finally {
        // Had it started after all, it runs until its stdin ends.
        await stop(child);
      }
      expect(output).toContain(`The embedded PostgreSQL in ${other} did not start on port ${port}:`);
      expect(output).toMatch(/could not bind IPv4 address "127\.0\.0\.1": Address already in use/);
    } finally {
      blocker.close();
      await rm(other, { recursive: true, force: true });
    }
  }, 120_000);
});
