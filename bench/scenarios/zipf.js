'use strict';
/**
 * zipf: 1,000 tenants, each request's tenant drawn from a Zipf distribution (s = 1.1), 20 connections, after 30 s of
 * the same load; its measured minute comes in rounds alternated with rounds of warm's load on an app as warm runs it
 * (the reference), so that zipf's throughput is compared with warm's measured beside it. PostgreSQL's connections are
 * sampled every 250 ms during zipf's rounds, the connection registry's counters read around each of them.
 */
const { load, mainThreadMedians, measuredLoad } = require('../lib/load');
const { median, round, seededRandom, zipfSampler } = require('../lib/stats');
const { sampleConnections, waitForTenantConnectionsClosed } = require('../lib/postgres');
const { profiled } = require('../lib/profile');
const { ROUND_WARM_UP_SECONDS, describe, startWarmApp, warmLoad, warmTenants } = require('./warm');

/**
 * The connection budget spent on as many open tenants as it allows: 74 pools of one connection + 4 control + 2
 * maintenance = 80. An idle pool closes its connection after TENANT_POOL_IDLE_MS, an idle tenant ORM costs no
 * connection then.
 */
const ZIPF_ENV = {
  TENANT_MAX_OPEN: '74',
  TENANT_POOL_MAX: '1',
  CONTROL_POOL_MAX: '4',
  DB_MAINTENANCE_SESSIONS: '1',
  DB_CONNECTION_BUDGET: '80',
};

/**
 * Seconds of the same load before the first round, so that it sees the app in its steady state, as warm does
 * (10 s per side there): a fresh app JIT-compiles its request and opening paths on background threads, builds an
 * ORM and DI subtree at each tenant's first request, and its registry learns which tenants are requested most
 * (figures in bench/README.md, section 20:05–22:00 UTC: 130 req/s in the 20 s after 3 s, 163–173 req/s later).
 */
const WARM_UP_S = 30;

/**
 * The measured minute: 4 rounds of 15 s, each after ROUND_WARM_UP_SECONDS of the same load (the app has idled while
 * the reference ran, and its pools have closed their connections: the first requests of a round reconnect).
 */
const ROUNDS = 4;
const ROUND_SECONDS = 15;

/**
 * The reference: a fresh app per round, started while zipf's app idles and loaded once zipf's tenant pools have
 * closed their connections (both apps at once would pass the server's max_connections), given warm's first warm-up
 * (10 s, see warm.js) and measured for warm's 10 s, then stopped, which closes its connections before zipf's next
 * round, so that zipf's connection count is its own.
 */
const REFERENCE_WARM_UP_SECONDS = 10;
const REFERENCE_SECONDS = 10;

/** How long the reference waits for zipf's idle pools to close (TENANT_POOL_IDLE_MS is 10 s by default). */
const POOLS_CLOSED_TIMEOUT_MS = 60_000;

module.exports = async function zipf(ctx) {
  const tenants = ctx.tenants;
  const draw = zipfSampler(tenants.length, 1.1, seededRandom(42));
  const headers = tenants.map((tenant) => ctx.tenantHeaders(tenant));
  const warmRequests = warmLoad(warmTenants(ctx).map((tenant) => ctx.tenantHeaders(tenant)));
  const profile = ctx.profile ? profiled('zipf-app') : undefined;
  const warmUpSeconds = ctx.quick ? 1 : WARM_UP_S;
  const rounds = ctx.quick ? 2 : ROUNDS;
  const zipfLoad = (seconds) => ({
    path: '/api/crops?limit=20',
    connections: 20,
    seconds,
    pickHeaders: () => headers[draw()],
  });
  const app = await ctx.startApp('zipf', {
    env: { ...ZIPF_ENV, ...(profile ? profile.env : {}) },
    nodeArgs: profile ? profile.nodeArgs : [],
  });

  const connections = { peak: 0, samples: 0 };
  const zipfRound = async () => {
    const sampler = sampleConnections(ctx.server, ctx.prefix, 250);
    try {
      if (!ctx.quick) await load({ ...zipfLoad(ROUND_WARM_UP_SECONDS), port: app.port });
      const before = (await app.stats()).registry;
      const result = await measuredLoad(app, zipfLoad(ctx.quick ? 1 : ROUND_SECONDS));
      const after = (await app.stats()).registry;
      return {
        ...result,
        hits: after.hits - before.hits,
        opens: after.opens - before.opens,
        reopens: after.reopens - before.reopens,
        evictions: after.evictions - before.evictions,
      };
    } finally {
      const sampled = await sampler.stop();
      connections.peak = Math.max(connections.peak, sampled.peak);
      connections.samples += sampled.samples;
    }
  };

  const referenceRound = async (i) => {
    const reference = await startWarmApp(ctx, `zipf-reference-${i + 1}`);
    try {
      await reference.waitForSpares();
      await waitForTenantConnectionsClosed(ctx.server, ctx.prefix, POOLS_CLOSED_TIMEOUT_MS);
      await warmRequests(reference, ctx.quick ? 1 : REFERENCE_WARM_UP_SECONDS);
      return await warmRequests(reference, ctx.quick ? 1 : REFERENCE_SECONDS);
    } finally {
      await reference.stop();
    }
  };

  try {
    const warmUp = await load({ ...zipfLoad(warmUpSeconds), port: app.port });
    const pairs = [];
    for (let i = 0; i < rounds; i++) {
      const pair = {};
      if (i % 2 === 0) {
        pair.zipf = await zipfRound();
        pair.warm = await referenceRound(i);
      } else {
        pair.warm = await referenceRound(i);
        pair.zipf = await zipfRound();
      }
      ctx.log(`zipf round ${i + 1}: zipf ${describe(pair.zipf)}; warm's app ${describe(pair.warm)}`);
      pairs.push(pair);
    }
    if (profile) ctx.log(`profile: ${await profile.collect(app.pid)}`);
    const pick = (side, key) => median(pairs.map((p) => p[side][key]));
    const total = (key) => pairs.reduce((sum, p) => sum + p.zipf[key], 0);
    const requests = total('requests');
    const warmScenarioRps = ctx.results.warm && ctx.results.warm.appRps;
    const final = (await app.stats()).registry;
    return {
      tenants: tenants.length,
      warmUpSeconds,
      warmUpRps: round(warmUp.rps),
      rounds,
      roundSeconds: ctx.quick ? 1 : ROUND_SECONDS,
      rps: round(pick('zipf', 'rps')),
      p50Ms: pick('zipf', 'p50'),
      p99Ms: pick('zipf', 'p99'),
      errors: total('errors'),
      pgConnectionsMax: connections.peak,
      connectionSamples: connections.samples,
      warmAppRps: round(pick('warm', 'rps')),
      throughputVsWarm: round(median(pairs.map((p) => p.zipf.rps / p.warm.rps)), 3),
      // Against the warm scenario's app, measured minutes before (how this ratio was taken until 2026-11-27 09:00).
      ...(warmScenarioRps
        ? { throughputVsWarmScenario: round(pick('zipf', 'rps') / warmScenarioRps, 3) }
        : {}),
      appCpuUsPerRequest: round(pick('zipf', 'cpuUsPerRequest')),
      serverCpuUsPerRequest: round(pick('zipf', 'serverCpuUsPerRequest')),
      warmAppCpuUsPerRequest: round(pick('warm', 'cpuUsPerRequest')),
      warmServerCpuUsPerRequest: round(pick('warm', 'serverCpuUsPerRequest')),
      idleShare: round(pick('zipf', 'idleShare'), 3),
      stealShare: round(pick('zipf', 'stealShare'), 3),
      ...mainThreadMedians(
        'app',
        pairs.map((p) => p.zipf),
      ),
      opensPerRequest: round(total('opens') / requests, 3),
      registryHitRate: round(total('hits') / (total('hits') + total('opens')), 4),
      registryOpens: total('opens'),
      registryReopens: total('reopens'),
      registryEvictions: total('evictions'),
      registryOpenAtEnd: final.open,
      registryKeptAtEnd: final.kept,
      tenantMaxOpen: Number(ZIPF_ENV.TENANT_MAX_OPEN),
      tenantPoolMax: Number(ZIPF_ENV.TENANT_POOL_MAX),
    };
  } finally {
    await app.stop();
  }
};

module.exports.targets = {
  errors: ['<=', 0],
  pgConnectionsMax: ['<=', 80],
  throughputVsWarm: ['>=', 0.6],
};
