'use strict';
/**
 * warm: GET /api/crops (20 newest of 200) rotating over 20 tenants as their owners, 10 connections, against the
 * single-database baseline app, which authenticates its one user the same way; the two sides alternate round by
 * round, each measured round after a few seconds of the same load, and the ratios are taken per pair.
 */
const { randomUUID } = require('node:crypto');
const { join } = require('node:path');
const { mainThreadMedians, measuredLoad } = require('../lib/load');
const { median, round } = require('../lib/stats');
const { ROOT, quote, seedCrops, withClient } = require('../lib/postgres');
const { profiled } = require('../lib/profile');

const { AccessTokens } = require(join(ROOT, 'dist', 'src', 'auth', 'access-tokens'));

/**
 * Adds the baseline's one user (an admin, like the tenants' owners) and returns an access token for it, signed as
 * the app signs its tokens (same claims, key and options).
 */
async function baselineUserToken(ctx, database) {
  const id = randomUUID();
  await withClient(ctx.server, database, (client) =>
    client.query(
      `INSERT INTO users (id, first_name, last_name, email, role)
       VALUES ($1, 'Bench', 'Owner', 'owner@baseline.example', 'admin')`,
      [id],
    ),
  );
  const tokens = new AccessTokens(ctx.secrets.jwtSecret, 86_400);
  return tokens.issue({ sub: id, tid: 'bench-baseline', role: 'admin', ver: 0 }).accessToken;
}

const describe = (side) =>
  `${round(side.rps)} req/s p99 ${side.p99} ms, CPU µs/req ${round(side.cpuUsPerRequest)} own ` +
  `${round(side.serverCpuUsPerRequest)} rest, ${round(100 * side.idleShare)} % idle, ` +
  `${round(100 * side.stealShare)} % stolen` +
  (side.mainThreadRunShare === undefined
    ? ''
    : `, main thread ${round(100 * side.mainThreadRunShare)} % running, ` +
      `${round(100 * side.mainThreadWaitShare)} % waiting for a CPU`);

/**
 * Idle time after which both sides close a pooled connection: longer than a side's longest pause between two of its
 * rounds (the rounds alternate A B | B A, so 32 s with their warm-ups), so that neither reconnects in the middle of
 * the measurement.
 */
const POOL_IDLE_MS = '60000';

/**
 * Unmeasured load each side gets right before each of its measured rounds. Alternating A B | B A, a side idles before
 * about half of its rounds while the other runs (10-20 s without these warm-ups, 10-32 s with them): longer than the
 * ~8 s of little allocation after which V8's memory reducer shrinks its heap to what is live. The load that follows
 * then regrows the young generation (a scavenge every ~5 ms at first, every ~50 ms after ~0.7 s) and runs a series of
 * full collections while the old generation's limit grows back, ~4 s in all. Measured: the first 5 s after 30 s idle
 * served 8-20 % (app) and 15-19 % (baseline) fewer requests than the next 5 s, and did not under
 * `--no-memory-reducer`; without warm-ups the app's rounds that followed a pause served ~10 % fewer requests than its
 * others (the baseline's ~4 %), with 3 s or 6 s of warm-up 1.4-3.4 % (the baseline's none). So they take out a bias
 * that fell on the app more than on the baseline (bench/README.md, section of 2026-11-27 01:28 UTC).
 */
const ROUND_WARM_UP_SECONDS = 6;

/** The app as warm runs it (zipf's reference runs it too). */
function startWarmApp(ctx, name, { nodeArgs = [], env = {} } = {}) {
  return ctx.startApp(name, { nodeArgs, env: { TENANT_POOL_IDLE_MS: POOL_IDLE_MS, ...env } });
}

/** The tenants warm's requests rotate over. */
const warmTenants = (ctx) => ctx.tenants.slice(0, ctx.quick ? 5 : 20);

/**
 * Warm's load: `GET /api/crops?limit=20` with each of `headers` in turn, 10 connections. Returns
 * `(app, seconds) => measured load` (see lib/load.js measuredLoad).
 */
function warmLoad(headers) {
  let next = 0;
  return (app, seconds) =>
    measuredLoad(app, {
      path: '/api/crops?limit=20',
      connections: 10,
      seconds,
      pickHeaders: () => headers[next++ % headers.length],
    });
}

module.exports = async function warm(ctx) {
  const tenants = warmTenants(ctx);
  const baselineDb = `${ctx.prefix}_baseline`;
  await withClient(ctx.server, 'postgres', (client) =>
    client.query(`CREATE DATABASE ${quote(baselineDb)} TEMPLATE ${quote(`${ctx.prefix}_template`)}`),
  );
  await seedCrops(ctx.server, baselineDb, 200);
  const baselineToken = await baselineUserToken(ctx, baselineDb);
  const appProfile = ctx.profile ? profiled('warm-app') : undefined;
  const baselineProfile = ctx.profile ? profiled('warm-baseline') : undefined;
  const app = await startWarmApp(ctx, 'warm-app', appProfile);
  const baseline = await ctx.startApp('warm-baseline', {
    kind: 'baseline',
    nodeArgs: baselineProfile ? baselineProfile.nodeArgs : [],
    env: {
      BASELINE_DB_NAME: baselineDb,
      BASELINE_POOL_IDLE_MS: POOL_IDLE_MS,
      ...(baselineProfile ? baselineProfile.env : {}),
    },
  });
  try {
    // The baseline gets the same X-Tenant-ID headers (ignored there), so both sides parse the same requests.
    const loads = new Map([
      [app, warmLoad(tenants.map((tenant) => ctx.tenantHeaders(tenant)))],
      [
        baseline,
        warmLoad(
          tenants.map((tenant) => ({ 'x-tenant-id': tenant, authorization: `Bearer ${baselineToken}` })),
        ),
      ],
    ]);
    const run = (side, seconds) => loads.get(side)(side, seconds);
    const seconds = ctx.quick ? 2 : 10;
    // Steady state only: the app clones its spare databases right after it starts, and both sides JIT-compile
    // their request paths in the first seconds (with 3 s of warm-up, the app's first round ran 15-25 % slower).
    await app.waitForSpares();
    await run(app, ctx.quick ? 1 : 10);
    await run(baseline, ctx.quick ? 1 : 10);
    const rounds = ctx.quick ? 2 : 6;
    const measured = async (side) => {
      if (!ctx.quick) await run(side, ROUND_WARM_UP_SECONDS);
      return run(side, seconds);
    };
    const pairs = [];
    for (let i = 0; i < rounds; i++) {
      const [a, b] = i % 2 === 0 ? [app, baseline] : [baseline, app];
      const first = await measured(a);
      const second = await measured(b);
      const [tenant, single] = a === app ? [first, second] : [second, first];
      ctx.log(`warm round ${i + 1}: app ${describe(tenant)}; baseline ${describe(single)}`);
      pairs.push({ tenant, single });
    }
    if (appProfile)
      ctx.log(
        `profiles: ${await appProfile.collect(app.pid)}, ${await baselineProfile.collect(baseline.pid)}`,
      );
    const pick = (side, key) => median(pairs.map((p) => p[side][key]));
    return {
      appRps: round(pick('tenant', 'rps')),
      baselineRps: round(pick('single', 'rps')),
      throughputRatio: round(median(pairs.map((p) => p.tenant.rps / p.single.rps)), 3),
      appP50Ms: pick('tenant', 'p50'),
      appP90Ms: pick('tenant', 'p90'),
      appP99Ms: pick('tenant', 'p99'),
      baselineP50Ms: pick('single', 'p50'),
      baselineP90Ms: pick('single', 'p90'),
      baselineP99Ms: pick('single', 'p99'),
      p99Ratio: round(median(pairs.map((p) => p.tenant.p99 / p.single.p99)), 3),
      appCpuUsPerRequest: round(pick('tenant', 'cpuUsPerRequest')),
      baselineCpuUsPerRequest: round(pick('single', 'cpuUsPerRequest')),
      appServerCpuUsPerRequest: round(pick('tenant', 'serverCpuUsPerRequest')),
      baselineServerCpuUsPerRequest: round(pick('single', 'serverCpuUsPerRequest')),
      appIdleShare: round(pick('tenant', 'idleShare'), 3),
      baselineIdleShare: round(pick('single', 'idleShare'), 3),
      appStealShare: round(pick('tenant', 'stealShare'), 3),
      baselineStealShare: round(pick('single', 'stealShare'), 3),
      ...mainThreadMedians(
        'app',
        pairs.map((p) => p.tenant),
      ),
      ...mainThreadMedians(
        'baseline',
        pairs.map((p) => p.single),
      ),
      errors: pairs.reduce((sum, p) => sum + p.tenant.errors + p.single.errors, 0),
      rounds,
      roundWarmUpSeconds: ctx.quick ? 0 : ROUND_WARM_UP_SECONDS,
    };
  } finally {
    await app.stop();
    await baseline.stop();
  }
};

module.exports.describe = describe;
module.exports.startWarmApp = startWarmApp;
module.exports.warmTenants = warmTenants;
module.exports.warmLoad = warmLoad;
module.exports.ROUND_WARM_UP_SECONDS = ROUND_WARM_UP_SECONDS;
module.exports.targets = {
  throughputRatio: ['>=', 0.9],
  p99Ratio: ['<=', 1.2],
  errors: ['<=', 0],
};
