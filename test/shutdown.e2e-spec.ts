import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { countConnections, serverEnv } from './support/test-database';
import { newPrefix, withMaintenanceClient } from './support/test-app';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Waits until the child says it listens and then answers /health: the port freePort released may have been taken
 * by another test's server in between, whose /health must not pass for the child's.
 */
async function waitForHealth(url: string, child: ChildProcess, listening: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode}`);
    const ok =
      listening() &&
      (await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      ));
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the app did not become healthy');
}

describe('the app as a process', () => {
  const prefix = newPrefix();
  const secretsDir = mkdtempSync(join(tmpdir(), 'farm-secrets-'));

  afterAll(() => rmSync(secretsDir, { recursive: true, force: true }));

  it('generates its secrets on first start, then closes every database connection and exits on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
      cwd: join(__dirname, '..'),
      env: {
        ...process.env,
        ...serverEnv(),
        PORT: String(port),
        TENANT_DB_PREFIX: prefix,
        DB_NAME: `${prefix.slice(0, -1)}control`,
        SECRETS_DIR: secretsDir,
        PLATFORM_ADMIN_TOKEN: '',
        JWT_SECRET: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit');
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForHealth(url, child, () => output.includes(`listening on http://localhost:${port}`));
      const tokenFile = join(secretsDir, 'platform-admin-token');
      const token = readFileSync(tokenFile, 'utf8').trim();
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      expect(statSync(join(secretsDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(output.split(token).length - 1).toBe(1);
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
      throw new Error(`${String(error)}\n${output}`);
    }
    child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    expect(output).toMatch(/Shutdown: closed 1 tenant ORM/);
    expect(output).not.toMatch(/ERROR/);
    const deadline = Date.now() + 2000;
    let open = await withMaintenanceClient((c) => countConnections(c, prefix));
    while (open > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      open = await withMaintenanceClient((c) => countConnections(c, prefix));
    }
    expect(open).toBe(0);
  }, 90_000);
});
