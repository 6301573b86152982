import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Agent, get as httpGet } from 'node:http';
import { Client } from 'pg';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { sourceProcess } from './support/source-process';
import {
  connectTo,
  countConnections,
  countDatabases,
  lockWaitersIn,
  serverEnv,
  settledLockWaiters,
} from './support/test-database';
import { until } from './support/until';
import { HttpShutdown } from '../src/health/http-shutdown';
import { newPrefix, sqlIn, startTestApp, stopTestApp, withMaintenanceClient } from './support/test-app';
import { assertNoContractViolations } from './support/openapi-contract';
import { advisoryLock } from '../src/database/advisory-lock';
import { TenantDatabaseNames } from '../src/tenancy/tenant-database-names';
import { templateLockKey } from '../src/tenancy/tenant-template';

/**
 * Waits until the child, started on PORT=0, logs the port it listens on, then until it answers /health there; its
 * URL.
 */
async function listeningUrl(child: ChildProcess, output: () => string): Promise<string> {
  const listening = /listening on http:\/\/localhost:(\d+)/;
  await until(() => listening.test(output()) || child.exitCode !== null, 60_000);
  const port = Number(listening.exec(output())?.[1]);
  if (!(port > 0)) throw new Error(`the app did not say where it listens (exit code ${child.exitCode})`);
  const url = `http://127.0.0.1:${port}`;
  const healthy = () =>
    fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
  await until(healthy, 30_000);
  if (!(await healthy())) throw new Error('the app did not become healthy');
  return url;
}

/** Stops (fast shutdown) the PostgreSQL running on `dir`, if any, and removes `dir`: what a failed test leaves. */
async function removeEmbeddedServer(dir: string): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
    await until(() => !existsSync(pidFile));
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Apps spawned and not yet exited, and the embedded servers' directories they were given: a test that failed or timed
 * out before its app exited leaves neither an app nor a server running.
 */
const running = new Set<ChildProcess>();
const embeddedDirs = new Set<string>();

/** `src/main.ts` as a child process, with `env` over the test server's settings; its output is collected. */
function spawnApp(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<unknown[]>;
} {
  const main = sourceProcess('src/main.ts');
  const child = spawn(process.execPath, main.args, {
    cwd: main.cwd,
    env: { ...process.env, ...serverEnv(), ...main.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
    rmSync(main.cwd, { recursive: true, force: true });
  });
  if (env.EMBEDDED_PG_DIR) embeddedDirs.add(env.EMBEDDED_PG_DIR);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, exited: once(child, 'exit') };
}

describe('the app as a process', () => {
  const prefix = newPrefix();
  const secretsDir = mkdtempSync(join(tmpdir(), 'farm-secrets-'));

  afterAll(() => rmSync(secretsDir, { recursive: true, force: true }));
  afterEach(async () => {
    await Promise.all(
      [...running].map((child) => {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        return exited;
      }),
    );
    for (const dir of embeddedDirs) await removeEmbeddedServer(dir);
    embeddedDirs.clear();
  });

  it('generates its secrets on first start, then closes every database connection and exits on SIGTERM', async () => {
    const {
      child,
      output: out,
      exited,
    } = spawnApp({
      // A free port, which the app's log names.
      PORT: '0',
      TENANT_DB_PREFIX: prefix,
      DB_NAME: `${prefix.slice(0, -1)}control`,
      SECRETS_DIR: secretsDir,
      PLATFORM_ADMIN_TOKEN: '',
      JWT_SECRET: '',
    });
    try {
      const url = await listeningUrl(child, out);
      const tokenFile = join(secretsDir, 'platform-admin-token');
      const token = readFileSync(tokenFile, 'utf8').trim();
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      expect(statSync(join(secretsDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(out().split(token).length - 1).toBe(1);
      await request(url).post('/organizations').send({ name: 'Signal Farm', farmType: 'dairy' }).expect(401);
      await request(url)
        .post('/organizations')
        .set('Authorization', `Bearer ${token}`)
        .send({ name: 'Signal Farm', farmType: 'dairy' })
        .expect(201);
      await request(url)
        .get('/api/crops')
        .set('X-Tenant-ID', 'signal-farm')
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(await withMaintenanceClient((c) => countConnections(c, prefix))).toBeGreaterThan(0);
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${String(error)}\n${out()}`);
    }
    child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    expect(out()).toMatch(/Shutdown: closed 1 tenant ORM/);
    expect(out()).not.toMatch(/ERROR/);
    const deadline = Date.now() + 2000;
    let open = await withMaintenanceClient((c) => countConnections(c, prefix));
    while (open > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      open = await withMaintenanceClient((c) => countConnections(c, prefix));
    }
    expect(open).toBe(0);
  }, 90_000);

  it.each(['the test server', 'an embedded server of its own'] as const)(
    'answers a request in flight at SIGTERM on %s, then ends its connection and exits though its client keeps asking',
    async (server) => {
      const own = newPrefix();
      const token = `platform-${'t'.repeat(32)}`;
      // Embedded: no DB_HOST, a data directory of its own, which the app's shutdown must stop last (the package's
      // signal hook stopped it at once, under the request).
      const embedded = server === 'the test server' ? undefined : mkdtempSync(join(tmpdir(), 'fm-drain-pg-'));
      const { child, output, exited } = spawnApp({
        // Free ports, which the app's log and the server's postmaster.pid name.
        PORT: '0',
        TENANT_DB_PREFIX: own,
        DB_NAME: `${own.slice(0, -1)}control`,
        PLATFORM_ADMIN_TOKEN: token,
        JWT_SECRET: 'j'.repeat(40),
        TENANT_SPARE_POOL: '0',
        ...(embedded ? { DB_HOST: '', EMBEDDED_PG_DIR: embedded, EMBEDDED_PG_PORT: '0' } : {}),
      });
      let url = '';
      // One pooled connection, as a load balancer keeps to its upstream.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const get = (path: string) =>
        new Promise<{ status?: number; connection?: string }>((resolve, reject) => {
          httpGet(
            `${url}${path}`,
            { agent, headers: { authorization: `Bearer ${token}`, 'x-tenant-id': 'drain-farm' } },
            (res) => {
              res.resume();
              res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
            },
          ).on('error', reject);
        });
      const embeddedClient = async (database: string) => {
        const client = new Client({
          host: embedded,
          port: Number(readFileSync(join(embedded ?? '', 'postmaster.pid'), 'utf8').split('\n')[3]),
          user: 'postgres',
          database,
        });
        await client.connect();
        return client;
      };
      const locker = { client: undefined as Client | undefined };
      try {
        url = await listeningUrl(child, output);
        await request(url)
          .post('/organizations')
          .set('Authorization', `Bearer ${token}`)
          .send({ name: 'Drain Farm', farmType: 'dairy' })
          .expect(201);
        expect(await get('/health')).toEqual({ status: 200, connection: 'keep-alive' });
        locker.client = await (embedded ? embeddedClient(`${own}drain-farm`) : connectTo(`${own}drain-farm`));
        await locker.client.query('BEGIN');
        await locker.client.query('LOCK TABLE crops IN ACCESS EXCLUSIVE MODE');
        const inFlight = get('/api/crops');
        const waiting = async () =>
          (await lockWaitersIn(`${own}drain-farm`, embedded ? () => embeddedClient('postgres') : undefined)) >
          0;
        await until(waiting);
        expect(await waiting()).toBe(true);
        child.kill('SIGTERM');
        // The listener closes (new connections are refused) while the request still waits for its lock.
        const refused = () =>
          fetch(`${url}/health`).then(
            () => false,
            () => true,
          );
        await until(refused);
        expect(await refused()).toBe(true);
        expect(await waiting()).toBe(true);
        await locker.client.query('COMMIT');
        // Gone before the app's shutdown ends, which stops an embedded server.
        await locker.client.end();
        locker.client = undefined;
        // Its headers were not sent when the shutdown began, but it was under way: answered, then its connection ends.
        expect((await inFlight).status).toBe(200);
        // The client goes on asking on its pooled connection: nothing answers any more, and the process ends.
        const answers: Array<number | undefined> = [];
        const deadline = Date.now() + 5_000;
        while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
          answers.push(
            await get('/health/ready').then(
              (r) => r.status,
              () => undefined,
            ),
          );
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(answers.filter((status) => status !== undefined)).toEqual([]);
        await exited;
      } catch (error) {
        child.kill('SIGKILL');
        if (embedded) await removeEmbeddedServer(embedded);
        throw new Error(`${String(error)}\n${output()}`);
      } finally {
        agent.destroy();
        await locker.client?.end();
      }
      expect(output()).not.toMatch(/ERROR/);
      if (embedded) {
        // Stopped by the app: no server left running on the directory.
        expect(existsSync(join(embedded, 'postmaster.pid'))).toBe(false);
        rmSync(embedded, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it('says that its port is in use, without a stack trace, and exits 1 after closing what it opened', async () => {
    const own = newPrefix();
    const blocker = createServer().listen(0);
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    try {
      const { output, exited } = spawnApp({
        PORT: String(port),
        TENANT_DB_PREFIX: own,
        DB_NAME: `${own.slice(0, -1)}control`,
        PLATFORM_ADMIN_TOKEN: `platform-${'t'.repeat(32)}`,
        JWT_SECRET: 'j'.repeat(40),
      });
      const [code] = await exited;
      expect(code).toBe(1);
      expect(output()).toContain(`Cannot listen on port ${port}: listen EADDRINUSE`);
      expect(output()).not.toMatch(/\n\s+at /);
      // The app was closed (its shutdown hooks ran) before the exit.
      expect(output()).toMatch(/Shutdown: closed 0 tenant ORM/);
    } finally {
      blocker.close();
    }
  }, 90_000);
});

describe('readiness during a shutdown', () => {
  it('answers 503 SHUTTING_DOWN once the shutdown has begun, and asks every client to close its connection', async () => {
    const t = await startTestApp();
    try {
      // Each request asks to keep its connection: only the shutdown makes the answer close it.
      const ready = () => t.anon.get('/health/ready').set('Connection', 'keep-alive');
      expect((await ready().expect(200)).headers.connection).toBe('keep-alive');
      t.app.get(HttpShutdown).onModuleDestroy();
      const during = await ready().expect(503);
      expect(during.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'The app is shutting down',
        code: 'SHUTTING_DOWN',
      });
      expect(during.headers.connection).toBe('close');
      const live = await t.anon.get('/health').set('Connection', 'keep-alive').expect(200);
      expect(live.headers.connection).toBe('close');
    } finally {
      await stopTestApp(t);
    }
  });
});

describe('a shutdown with work of its own under way', () => {
  it('finishes a spare refill before closing its databases, serving new connections meanwhile', async () => {
    const t = await startTestApp({ env: { TENANT_SPARE_POOL: '1' } });
    const spares = () => sqlIn<{ name: string }>(t.config.DB_NAME, 'SELECT name FROM spare_databases');
    const [spare] = await spares();
    let closed = false;
    let closing: Promise<unknown> | undefined;
    try {
      const key = templateLockKey(t.app.get(TenantDatabaseNames).template);
      await withMaintenanceClient(async (holder) => {
        // The refill the sign-up starts (it claims the spare) waits to clone the template.
        await advisoryLock(holder, key);
        try {
          await t.signUp('Drain Spare Farm');
          expect(await settledLockWaiters(holder, [key], 1)).toBe(1);
          closing = t.app.close().then(() => (closed = true));
          await t.anon.get('/health/ready').expect(503);
          await t.anon.get('/health').expect(200);
          expect(closed).toBe(false);
        } finally {
          await holder.query('SELECT pg_advisory_unlock_all()');
        }
      });
      await closing;
      // Refilled, recorded in the control plane before it closed: a spare of its own, not the one claimed.
      const [refilled, ...others] = await spares();
      expect(others).toEqual([]);
      expect(refilled.name).not.toBe(spare.name);
      expect(await withMaintenanceClient((c) => countDatabases(c, refilled.name))).toBe(1);
    } finally {
      // Closed once, whatever failed: by the close under way, else here.
      await (closing ?? t.close()).catch(() => undefined);
    }
    assertNoContractViolations(t.contract);
  });
});
