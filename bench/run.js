'use strict';
/**
 * npm run bench [-- --quick] [-- --only=warm,cold] [-- --profile]
 *
 * Starts the built app (dist/) as child processes against PostgreSQL (DB_HOST when set, else an embedded server
 * under .data/bench-postgres) with a control database and tenant prefix of its own, measures how fast that server
 * starts backends (lib/control.js), seeds tenants, runs the scenarios, prints a table, writes
 * bench/results/latest.json, and drops every database of the run, also when something fails. --profile runs the
 * apps of the warm and zipf scenarios under V8's CPU profiler and writes a summary of each profile to
 * bench/results/profiles/.
 */
const { execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdirSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { assertBuilt, startApp } = require('./lib/app');
const { connectionControl } = require('./lib/control');
const {
  ROOT,
  dropAbandonedRuns,
  dropDatabases,
  holdRunLock,
  runDatabases,
  seedCrops,
  startServer,
} = require('./lib/postgres');

const SCENARIOS = ['warm', 'cold', 'zipf', 'memory', 'signup', 'fleet'];
/** Seconds of the connection control before the seeding (see lib/control.js). */
const CONTROL_SECONDS = 5;

function parseArgs(argv) {
  const quick = argv.includes('--quick');
  const profile = argv.includes('--profile');
  const only = argv.find((arg) => arg.startsWith('--only='));
  const wanted = only ? only.slice('--only='.length).split(',') : SCENARIOS;
  const unknown = wanted.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length > 0)
    throw new Error(`Unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  // Always in this order: zipf also reports its figures against warm's of the same run.
  return { quick, profile, scenarios: SCENARIOS.filter((s) => wanted.includes(s)) };
}

const log = (message) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Runs `work` over `items`, `limit` at a time. */
async function inParallel(items, limit, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

async function expectOk(pending) {
  const res = await pending;
  if (res.status < 200 || res.status > 299) {
    throw new Error(`HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  return res;
}

/** Every tenant's owner logs in with this password (the owners exist only in the run's databases). */
const OWNER_PASSWORD = 'bench owner password';

/**
 * Signs up `count` organizations through the API (four at a time), each with an owner, logs each owner in for an
 * access token (ctx.tokens: tenant id -> token; valid for the whole run, in every app of the run), and gives each
 * tenant 200 crops.
 */
async function seedTenants(ctx, count) {
  const app = await ctx.startApp('seed');
  const tenants = Array.from({ length: count }, (_, i) => `bench-farm-${String(i).padStart(4, '0')}`);
  const email = (tenant) => `owner@${tenant}.example`;
  try {
    // Sign-ups claim spare databases: start once the pool is full, as on an app that has been up a while.
    await app.waitForSpares(60_000);
    let started = Date.now();
    await inParallel(tenants, 4, async (tenant) => {
      await expectOk(
        app.postAsPlatform('/organizations', {
          name: tenant,
          farmType: 'vegetable',
          owner: { firstName: 'Bench', lastName: 'Owner', email: email(tenant), password: OWNER_PASSWORD },
        }),
      );
    });
    log(`signed up ${count} tenants with an owner in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    started = Date.now();
    await inParallel(tenants, 4, async (tenant) => {
      const res = await expectOk(
        app.post(
          '/api/auth/login',
          { email: email(tenant), password: OWNER_PASSWORD },
          { 'x-tenant-id': tenant },
        ),
      );
      ctx.tokens.set(tenant, res.body.accessToken);
    });
    log(`logged in ${count} owners in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await app.stop();
  }
  await inParallel(tenants, 4, (tenant) => seedCrops(ctx.server, `${ctx.prefix}${tenant}`, 200));
  return tenants;
}

function commit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function machine(server) {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0] ? cpus[0].model : 'unknown',
    memoryGb: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    postgres: server.embedded ? 'embedded (bench)' : `${server.host}:${server.port}`,
  };
}

function checkTarget(value, [op, bound]) {
  return op === '>=' ? value >= bound : value <= bound;
}

/**
 * What makes a run's figures meaningless, whatever the targets: an error count above 0 (every request of a load is
 * to succeed) or a figure that is not a number (a load that served nothing).
 */
function invalidFigures(results) {
  const problems = [];
  for (const [scenario, metrics] of Object.entries(results)) {
    for (const [metric, value] of Object.entries(metrics)) {
      if (!Number.isFinite(value)) problems.push(`${scenario}.${metric} is ${value}`);
      else if (/^(e|.*E)rrors$/.test(metric) && value > 0) problems.push(`${scenario}.${metric} is ${value}`);
    }
  }
  return problems;
}

function printTable(results, targets) {
  const rows = [['scenario', 'metric', 'value', 'target', '']];
  for (const [scenario, metrics] of Object.entries(results)) {
    for (const [metric, value] of Object.entries(metrics)) {
      const target = targets[scenario][metric];
      const verdict = target ? (checkTarget(value, target) ? 'ok' : 'MISSED') : '';
      rows.push([scenario, metric, String(value), target ? target.join(' ') : '', verdict]);
    }
  }
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  for (const row of rows)
    console.log(
      row
        .map((cell, col) => cell.padEnd(widths[col]))
        .join('  ')
        .trimEnd(),
    );
}

async function main() {
  const { quick, profile, scenarios } = parseArgs(process.argv.slice(2));
  assertBuilt();
  const server = await startServer();
  const runPrefix = `bench${randomBytes(3).toString('hex')}`;
  const prefix = `${runPrefix}m_`;
  const apps = new Set();
  // Random per run, the same for every app of the run; set, so the apps never generate them into SECRETS_DIR.
  const secrets = {
    platformToken: randomBytes(32).toString('hex'),
    jwtSecret: randomBytes(32).toString('hex'),
  };
  const ctx = {
    server,
    runPrefix,
    prefix,
    quick,
    profile,
    log,
    expectOk,
    results: {},
    tenants: [],
    secrets,
    tokens: new Map(),
    /** The headers of a request as the tenant's owner: X-Tenant-ID and the owner's access token. */
    tenantHeaders(tenant) {
      return { 'x-tenant-id': tenant, authorization: `Bearer ${ctx.tokens.get(tenant)}` };
    },
    async startApp(name, options = {}) {
      const app = await startApp({
        server,
        secrets,
        prefix: options.prefix || prefix,
        name: `${runPrefix}-${name}`,
        ...options,
      });
      apps.add(app);
      const stop = app.stop;
      app.stop = async () => {
        apps.delete(app);
        await stop();
      };
      return app;
    },
  };
  const targets = {};
  let failed = false;
  const runLock = await holdRunLock(server, runPrefix).catch(async (error) => {
    await server.stop();
    throw error;
  });
  /** Ctrl-C, a closed terminal, a CI job's timeout: the run's apps and databases go first. */
  const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  const interrupted = (signal) => {
    log(`${signal}: cleaning up`);
    void cleanup()
      .catch((error) => console.error(error))
      .finally(() => process.exit(SIGNALS[signal]));
  };
  /** Once, whether a signal or the end of the run asks first. */
  let cleaning;
  const cleanup = () => {
    for (const signal of Object.keys(SIGNALS)) process.off(signal, interrupted);
    cleaning ??= (async () => {
      try {
        await Promise.allSettled([...apps].map((app) => app.stop()));
        const dropped = await dropDatabases(server, runDatabases([runPrefix]));
        log(`dropped ${dropped} database(s) with prefix ${runPrefix}`);
      } finally {
        await runLock.release().catch(() => undefined);
        await server.stop();
      }
    })();
    return cleaning;
  };
  for (const signal of Object.keys(SIGNALS)) process.on(signal, interrupted);
  const started = Date.now();
  let lockLost;
  let cleanupFailed = false;
  try {
    log(`${quick ? 'quick' : 'full'} run, prefix ${runPrefix}, PostgreSQL ${server.host}:${server.port}`);
    // Another role's databases, say, are left for their owner: the run goes on.
    const leftovers = await dropAbandonedRuns(server).catch((error) => {
      log(`could not drop what interrupted runs left: ${error.message}`);
      return 0;
    });
    if (leftovers > 0) log(`dropped ${leftovers} database(s) left by interrupted runs`);
    ctx.results.control = await connectionControl(server, quick ? 1 : CONTROL_SECONDS);
    targets.control = {};
    log(`control: ${JSON.stringify(ctx.results.control)}`);
    const thousand = scenarios.some((name) => ['zipf', 'memory', 'fleet'].includes(name));
    ctx.tenants = await seedTenants(ctx, quick ? 20 : thousand ? 1000 : 220);
    for (const name of scenarios) {
      const scenario = require(`./scenarios/${name}`);
      log(`scenario ${name}`);
      ctx.results[name] = await scenario(ctx);
      targets[name] = scenario.targets;
      log(`${name}: ${JSON.stringify(ctx.results[name])}`);
    }
  } catch (error) {
    failed = true;
    console.error(error);
  } finally {
    lockLost = runLock.lost();
    // A failed cleanup leaves databases to the next run's sweep; the figures still stand, the exit status says so.
    await cleanup().catch((error) => {
      console.error(error);
      cleanupFailed = true;
    });
  }
  if (failed) process.exit(1);
  printTable(ctx.results, targets);
  const problems = invalidFigures(ctx.results);
  if (lockLost) {
    problems.push(
      `the run's lock was lost (${lockLost.message}): another run may have dropped its databases`,
    );
  }
  const report = {
    ...ctx.results,
    // Profiled apps run slower, and only some are profiled (zipf's references are not): its ratios are not comparable.
    mode: `${quick ? 'quick' : 'full'}${profile ? ', profiled' : ''}`,
    date: new Date().toISOString(),
    commit: commit(),
    machine: machine(server),
  };
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; wrote bench/results/latest.json`);
  if (problems.length > 0) console.error(`The run's figures do not stand: ${problems.join('; ')}`);
  // Explicitly: the embedded server's package ends the process with 0 once the loop drains.
  process.exit(problems.length > 0 || cleanupFailed ? 1 : 0);
}

void main();
