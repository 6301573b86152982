'use strict';
/**
 * warm: GET /api/crops (20 newest of 200) rotating over 20 tenants as their owners, 10 connections, against the
 * single-database baseline app, which authenticates its one user the same way; the two sides alternate round by
 * round, each measured round after a few seconds of the same load, and the ratios are taken per pair.
 */
const { randomUUID } = require('node:crypto');
const { join } = require('node:path');
const { mainThreadMedians } = require('../lib/load');
const { median, round } = require('../lib/stats');
const { ROOT, quote, seedCrops, withClient } = require('../lib/postgres');
const { profiled } = require('../lib/profile');
const {
  POOL_IDLE_MS,
  FIRST_WARM_UP_SECONDS,
  ROUND_WARM_UP_SECONDS,
  ROUND_SECONDS,
  describeRound,
  startWarmApp,
  warmLoad,
  warmTenants,
} = require('../lib/warm-load');

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
    /** Errors of every load of either side, warm-ups included. */
    let errors = 0;
    const run = async (side, seconds) => {
      const result = await loads.get(side)(side, seconds);
      errors += result.errors;
      return result;
    };
    const seconds = ctx.quick ? 2 : ROUND_SECONDS;
    // Steady state only (see FIRST_WARM_UP_SECONDS).
    await app.waitForSpares();
    await run(app, ctx.quick ? 1 : FIRST_WARM_UP_SECONDS);
    await run(baseline, ctx.quick ? 1 : FIRST_WARM_UP_SECONDS);
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
      ctx.log(`warm round ${i + 1}: app ${describeRound(tenant)}; baseline ${describeRound(single)}`);
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
      appP50Ms: round(pick('tenant', 'p50')),
      appP90Ms: round(pick('tenant', 'p90')),
      appP99Ms: round(pick('tenant', 'p99')),
      baselineP50Ms: round(pick('single', 'p50')),
      baselineP90Ms: round(pick('single', 'p90')),
      baselineP99Ms: round(pick('single', 'p99')),
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
      errors,
      rounds,
      roundWarmUpSeconds: ctx.quick ? 0 : ROUND_WARM_UP_SECONDS,
    };
  } finally {
    await app.stop();
    await baseline.stop();
  }
};

module.exports.targets = {
  throughputRatio: ['>=', 0.9],
  p99Ratio: ['<=', 1.2],
  errors: ['<=', 0],
};
