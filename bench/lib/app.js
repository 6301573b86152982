'use strict';
/** Starts the built app (dist/src/main.js) or the baseline app as a child process and talks to it over HTTP. */
const { spawn } = require('node:child_process');
const { createWriteStream, existsSync, mkdirSync, readFileSync } = require('node:fs');
const http = require('node:http');
const { createServer } = require('node:net');
const { join } = require('node:path');
const { ROOT, controlDatabase } = require('./postgres');
const { stopwatch } = require('./stats');

const MAIN = join(ROOT, 'dist', 'src', 'main.js');
/**
 * The Node.js flags `npm run start:prod` runs the app with (package.json): every app the bench starts, the baseline
 * too, runs with them, so that the bench measures the app as it is deployed.
 */
const START_FLAGS = (() => {
  const script = require(join(ROOT, 'package.json')).scripts['start:prod'];
  const match = /^node((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/src\/main\.js$/.exec(script);
  if (!match)
    throw new Error(`package.json's start:prod is not "node [--flag ...] dist/src/main.js": ${script}`);
  return match[1].split(/\s+/).filter(Boolean);
})();
const BASELINE = join(ROOT, 'bench', 'baseline', 'main.ts');
const LOG_DIR = join(ROOT, 'bench', 'results', 'logs');

function assertBuilt() {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build before npm run bench`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Kept-alive connections to the apps. With a `timeout` of its own, the agent follows the app's `Keep-Alive: timeout=5`
 * hint and closes an idle connection a second before the app does (Node's keepSocketAlive applies the hint only when
 * it is shorter than the agent's timeout, and without one it never is); without it, a request could go out on a
 * connection the app was closing and meet ECONNRESET (one reading `/internal/stats` ended a run so). The timeout
 * does not abort a request that runs longer: no listener acts on it for a socket in use.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 32, timeout: 60_000 });

/** One HTTP request; resolves with status, parsed body and the elapsed milliseconds. */
function request(port, method, path, { headers = {}, body } = {}) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const elapsed = stopwatch();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const ms = elapsed();
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode, body: parsed, ms });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** CPU time (user + system) a process has used so far, from /proc (Linux), in milliseconds. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/**
 * The time a process's main thread has spent on a CPU and waiting for one (runnable, on a run queue) so far, from
 * /proc/<pid>/task/<pid>/schedstat (Linux; nanoseconds there), in milliseconds; undefined where the kernel keeps no
 * such statistics (no file, or zeros: scheduler and delay accounting off). A Node.js process serves its requests
 * on that thread, so the two tell a process that waits for I/O from one that is short of CPU. Time the hypervisor
 * steals from a running thread is in neither (with paravirtual steal accounting, as on KVM guests).
 */
function mainThreadMs(pid) {
  let schedstat;
  try {
    schedstat = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8');
  } catch {
    return undefined;
  }
  const [runNs, waitNs] = schedstat.trim().split(/\s+/).map(Number);
  return runNs > 0 ? { run: runNs / 1e6, wait: waitNs / 1e6 } : undefined;
}

/**
 * Spawns an app with the run's database settings and secrets (`secrets`: { platformToken, jwtSecret }, the same
 * for every app of a run, so a token stays valid across its apps) plus `env`; resolves once GET /health/ready
 * answers 200. `kind` is 'app' (the built app) or 'baseline'.
 */
async function startApp({ server, prefix, secrets, env = {}, kind = 'app', name, nodeArgs = [] }) {
  const port = await freePort();
  mkdirSync(LOG_DIR, { recursive: true });
  const log = createWriteStream(join(LOG_DIR, `${name}.log`), { flags: 'a' });
  const flags = [...START_FLAGS, ...nodeArgs];
  const args =
    kind === 'app' ? [...flags, MAIN] : [...flags, '-r', 'ts-node/register/transpile-only', BASELINE];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(port),
      DB_HOST: server.host,
      DB_PORT: String(server.port),
      DB_USER: server.user,
      DB_PASSWORD: server.password,
      DB_NAME: controlDatabase(prefix),
      TENANT_DB_PREFIX: prefix,
      INTERNAL_STATS_ENABLED: 'true',
      SWAGGER_ENABLED: 'false',
      PLATFORM_ADMIN_TOKEN: secrets.platformToken,
      JWT_SECRET: secrets.jwtSecret,
      JWT_TTL_SECONDS: '86400',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Two streams into one file: neither may end it (the second would write after the end); the exit does.
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  child.once('close', () => log.end());
  let exited = false;
  const exit = new Promise((resolve) => child.once('exit', (code) => ((exited = true), resolve(code))));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`${name} exited during start; see ${join(LOG_DIR, `${name}.log`)}`);
    const res = await request(port, 'GET', '/health/ready').catch(() => undefined);
    if (res && res.status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not become ready within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const platform = { authorization: `Bearer ${secrets.platformToken}` };
  const stats = async () => (await request(port, 'GET', '/internal/stats', { headers: platform })).body;
  return {
    port,
    pid: child.pid,
    get: (path, headers) => request(port, 'GET', path, { headers }),
    post: (path, body, headers) => request(port, 'POST', path, { body, headers }),
    /** A control-plane POST (sign-up) with the platform token. */
    postAsPlatform: (path, body) => request(port, 'POST', path, { body, headers: platform }),
    stats,
    /** Resolves once the spare pool is full (so the tenant template is ready), or after `deadlineMs`. */
    async waitForSpares(deadlineMs = 10_000) {
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        const { spares } = await stats();
        if (spares.ready >= spares.target || Date.now() > deadline) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    cpuMs: () => cpuMs(child.pid),
    mainThreadMs: () => mainThreadMs(child.pid),
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

module.exports = { assertBuilt, startApp, request, freePort, MAIN };
