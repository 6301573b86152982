'use strict';
/**
 * zipf: 1,000 tenants, each request's tenant drawn from a Zipf distribution (s = 1.1), 20 connections, after 30 s of
 * the same load; its measured minute comes in rounds, each paired with a round of warm's load on a fresh app as warm
 * runs it (the reference), the pair's order alternating, so that zipf's throughput is compared with warm's measured
 * beside it. PostgreSQL's connections are sampled every 250 ms while zipf's app is loaded, the connection registry's
 * counters read around each measured round.
 */
const { load, mainThreadMedians, measuredLoad } = require('../lib/load');
const { median, round, seededRandom, zipfSampler } = require('../lib/stats');
const { sampleConnections, waitForTenantConnectionsClosed } = require('../lib/postgres');
const { profiled } = require('../lib/profile');
const {
  FIRST_WARM_UP_SECONDS,
  ROUND_WARM_UP_SECONDS: WARM_ROUND_WARM_UP_SECONDS,
  ROUND_SECONDS: WARM_ROUND_SECONDS,
  describeRound,
  startWarmApp,
  warmLoad,
  warmTenants,
} = require('../lib/warm-load');

/**
 * The connection budget spent on as many open tenants as it allows: 74 pools of one connection + 3 control + the
 * change listener's 1 + 2 maintenance = 80. An idle pool closes its connection after TENANT_POOL_IDLE_MS (the
 * default, set here because the reference rounds wait for it), an idle tenant ORM costs no connection then.
 */
const ZIPF_ENV = {
  TENANT_MAX_OPEN: '74',
  TENANT_POOL_MAX: '1',
  TENANT_POOL_IDLE_MS: '10000',
  CONTROL_POOL_MAX: '3',
  DB_MAINTENANCE_SESSIONS: '1',
  DB_CONNECTION_BUDGET: '80',
};

/**
 * Seconds of the same load before the first round, so that it sees the app in its steady state: a fresh app
 * JIT-compiles its request and opening paths on background threads, builds an ORM and DI subtree at each tenant's
 * first request, and its registry learns which tenants are requested most (figures in bench/README.md, section
 * 20:05–22:00 UTC: 130 req/s in the 20 s after 3 s, 163–173 req/s later).
 */
const WARM_UP_S = 30;

/**
 * The measured minute: 5 rounds of 12 s (an odd count, so the median is a round's), each after ROUND_WARM_UP_SECONDS
 * of the same load: after a reference's round the app has idled, its pools have closed their connections (the
 * round's first requests reconnect), and V8's memory reducer has shrunk its heap (see lib/warm-load.js).
 */
const ROUNDS = 5;
const ROUND_SECONDS = 12;
const ROUND_WARM_UP_SECONDS = 10;

/**
 * The reference's warm-up, as warm's app gets before a measured round in all: its first warm-up and a round's.
 * Each reference is a fresh app, started once zipf's pools have closed their idle connections (the two apps' at
 * once would pass the server's max_connections) and stopped after its round, which closes its connections, so
 * that the connections sampled during zipf's round are zipf's.
 */
const REFERENCE_WARM_UP_SECONDS = FIRST_WARM_UP_SECONDS + WARM_ROUND_WARM_UP_SECONDS;

/**
 * With `--quick` zipf's pools close after 1 s idle, so that its references need not wait 10 s each, and 8 tenants are
 * kept open, fewer than the 20 seeded, so that the quick run evicts and reopens tenants as the full one does.
 */
const QUICK_ENV = { TENANT_POOL_IDLE_MS: '1000', TENANT_MAX_OPEN: '8' };

module.exports = async function zipf(ctx) {
  const tenants = ctx.tenants;
  const draw = zipfSampler(tenants.length, 1.1, seededRandom(42));
  const headers = tenants.map((tenant) => ctx.tenantHeaders(tenant));
  const referenceLoad = warmLoad(warmTenants(ctx).map((tenant) => ctx.tenantHeaders(tenant)));
  const profile = ctx.profile ? profiled('zipf-app') : undefined;
  const warmUpSeconds = ctx.quick ? 1 : WARM_UP_S;
  const roundWarmUpSeconds = ctx.quick ? 0 : ROUND_WARM_UP_SECONDS;
  const roundSeconds = ctx.quick ? 1 : ROUND_SECONDS;
  const rounds = ctx.quick ? 3 : ROUNDS;
  const zipfLoad = (seconds) => ({
    path: '/api/crops?limit=20',
    connections: 20,
    seconds,
    pickHeaders: () => headers[draw()],
  });
  const connections = { peak: 0, samples: 0 };
  /** Errors in every load of zipf's app, warm-ups included. */
  let errors = 0;
  const env = { ...ZIPF_ENV, ...(ctx.quick ? QUICK_ENV : {}) };
  // How long a reference waits for zipf's idle pools to close.
  const poolsClosedTimeoutMs = Number(env.TENANT_POOL_IDLE_MS) + 20_000;
  const app = await ctx.startApp('zipf', {
    env: { ...env, ...(profile ? profile.env : {}) },
    nodeArgs: profile ? profile.nodeArgs : [],
  });

  /** Runs `work` with zipf's connections sampled. */
  const sampled = async (work) => {
    const sampler = sampleConnections(ctx.server, ctx.prefix, 250);
    let result;
    try {
      result = await work();
    } catch (error) {
      await sampler.stop().catch(() => undefined);
      throw error;
    }
    const { peak, samples } = await sampler.stop();
    connections.peak = Math.max(connections.peak, peak);
    connections.samples += samples;
    return result;
  };

  const unmeasured = async (seconds) => {
    const result = await load({ ...zipfLoad(seconds), port: app.port });
    errors += result.errors;
    return result;
  };

  const zipfRound = () =>
    sampled(async () => {
      if (roundWarmUpSeconds > 0) await unmeasured(roundWarmUpSeconds);
      const before = (await app.stats()).registry;
      const result = await measuredLoad(app, zipfLoad(roundSeconds));
      const after = (await app.stats()).registry;
      errors += result.errors;
      return {
        ...result,
        hits: after.hits - before.hits,
        opens: after.opens - before.opens,
        reopens: after.reopens - before.reopens,
        evictions: after.evictions - before.evictions,
      };
    });

  const referenceRound = async (i) => {
    await waitForTenantConnectionsClosed(ctx.server, ctx.prefix, poolsClosedTimeoutMs);
    const reference = await startWarmApp(ctx, `zipf-reference-${i + 1}`);
    try {
      await reference.waitForSpares();
      const warmUp = await referenceLoad(reference, ctx.quick ? 1 : REFERENCE_WARM_UP_SECONDS);
      const result = await referenceLoad(reference, ctx.quick ? 1 : WARM_ROUND_SECONDS);
      if (result.requests === 0) throw new Error("zipf's reference served no request");
      return { ...result, errors: warmUp.errors + result.errors };
    } finally {
      await reference.stop();
    }
  };

  try {
    const warmUp = await sampled(() => unmeasured(warmUpSeconds));
    const pairs = [];
    for (let i = 0; i < rounds; i++) {
      // Alternated, R Z | Z R | R Z ..., so that a drift of the machine does not fall on one side of every pair.
      let warm;
      let zipf;
      if (i % 2 === 0) {
        warm = await referenceRound(i);
        zipf = await zipfRound();
      } else {
        zipf = await zipfRound();
        warm = await referenceRound(i);
      }
      ctx.log(`zipf round ${i + 1}: reference ${describeRound(warm)}; zipf ${describeRound(zipf)}`);
      pairs.push({ warm, zipf });
    }
    const final = (await app.stats()).registry;
    // Last: the app shuts down on the signal that makes it write its profile (Nest's shutdown hooks listen to it).
    if (profile) ctx.log(`profile: ${await profile.collect(app.pid)}`);
    const pick = (side, key) => median(pairs.map((p) => p[side][key]));
    const total = (key) => pairs.reduce((sum, p) => sum + p.zipf[key], 0);
    const hits = total('hits');
    const opens = total('opens');
    if (total('evictions') === 0) throw new Error('zipf evicted no tenant: its registry was never full');
    const warmScenarioRps = ctx.results.warm && ctx.results.warm.appRps;
    const referenceRps = pick('warm', 'rps');
    return {
      tenants: tenants.length,
      warmUpSeconds,
      warmUpRps: round(warmUp.rps),
      rounds,
      roundWarmUpSeconds,
      roundSeconds,
      rps: round(pick('zipf', 'rps')),
      p50Ms: round(pick('zipf', 'p50')),
      p99Ms: round(pick('zipf', 'p99')),
      errors,
      pgConnectionsMax: connections.peak,
      connectionSamples: connections.samples,
      throughputVsWarm: round(median(pairs.map((p) => p.zipf.rps / p.warm.rps)), 3),
      referenceRps: round(referenceRps),
      referenceErrors: pairs.reduce((sum, p) => sum + p.warm.errors, 0),
      // The warm scenario's app against the references, and zipf against it, as this ratio was taken until
      // 2026-11-27 09:00 UTC (zipf's one minute over warm's figure from minutes before); when warm ran.
      ...(warmScenarioRps
        ? {
            referenceVsWarmScenario: round(referenceRps / warmScenarioRps, 3),
            throughputVsWarmScenario: round(pick('zipf', 'rps') / warmScenarioRps, 3),
          }
        : {}),
      appCpuUsPerRequest: round(pick('zipf', 'cpuUsPerRequest')),
      serverCpuUsPerRequest: round(pick('zipf', 'serverCpuUsPerRequest')),
      referenceCpuUsPerRequest: round(pick('warm', 'cpuUsPerRequest')),
      referenceServerCpuUsPerRequest: round(pick('warm', 'serverCpuUsPerRequest')),
      idleShare: round(pick('zipf', 'idleShare'), 3),
      stealShare: round(pick('zipf', 'stealShare'), 3),
      ...mainThreadMedians(
        'app',
        pairs.map((p) => p.zipf),
      ),
      opensPerRequest: round(opens / total('requests'), 3),
      registryHitRate: round(hits / (hits + opens), 4),
      registryOpens: opens,
      registryReopens: total('reopens'),
      registryEvictions: total('evictions'),
      registryOpenAtEnd: final.open,
      registryKeptAtEnd: final.kept,
      tenantMaxOpen: Number(env.TENANT_MAX_OPEN),
      tenantPoolMax: Number(env.TENANT_POOL_MAX),
    };
  } finally {
    await app.stop();
  }
};

module.exports.targets = {
  errors: ['<=', 0],
  pgConnectionsMax: ['<=', 80],
  throughputVsWarm: ['>=', 0.6],
  referenceErrors: ['<=', 0],
};
