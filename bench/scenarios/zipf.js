'use strict';
/**
 * zipf: 1,000 tenants, each request's tenant drawn from a Zipf distribution (s = 1.1), 20 connections for 60 s after
 * 30 s of the same load, PostgreSQL's connections sampled every 250 ms, the connection registry's counters read before
 * and after.
 */
const { cpuPerRequest, load, mainThreadShares } = require('../lib/load');
const { round, seededRandom, zipfSampler } = require('../lib/stats');
const { sampleConnections } = require('../lib/postgres');
const { profiled } = require('../lib/profile');

/**
 * The connection budget spent on as many open tenants as it allows: 74 pools of one connection + 4 control + 2
 * maintenance = 80. An idle pool closes its connection after TENANT_POOL_IDLE_MS, an idle tenant ORM costs no
 * connection then.
 */
/**
 * Seconds of the same load before the measured minute, so that it sees the app in its steady state, as warm does
 * (10 s per side there): a fresh app JIT-compiles its request and opening paths on background threads, builds an
 * ORM and DI subtree at each tenant's first request, and its registry learns which tenants are requested most. In a
 * zipf-like load (1,000 tenants, 74 single-connection slots) 20 s windows after 3 s gave 130 req/s (main thread
 * 5.6 ms of user CPU and other threads 1.6 ms per request, 0.304 openings per request), after 26 s 173 and after
 * 49 s 163 req/s (4.3-4.6 and 0.4-0.6 ms, 0.272-0.280).
 */
const WARM_UP_S = 30;

const ZIPF_ENV = {
  TENANT_MAX_OPEN: '74',
  TENANT_POOL_MAX: '1',
  CONTROL_POOL_MAX: '4',
  DB_MAINTENANCE_SESSIONS: '1',
  DB_CONNECTION_BUDGET: '80',
};

module.exports = async function zipf(ctx) {
  const tenants = ctx.tenants;
  const draw = zipfSampler(tenants.length, 1.1, seededRandom(42));
  const headers = tenants.map((tenant) => ctx.tenantHeaders(tenant));
  const profile = ctx.profile ? profiled('zipf-app') : undefined;
  const app = await ctx.startApp('zipf', {
    env: { ...ZIPF_ENV, ...(profile ? profile.env : {}) },
    nodeArgs: profile ? profile.nodeArgs : [],
  });
  try {
    const warmUp = await load({
      port: app.port,
      path: '/api/crops?limit=20',
      connections: 20,
      seconds: ctx.quick ? 1 : WARM_UP_S,
      pickHeaders: () => headers[draw()],
    });
    const before = (await app.stats()).registry;
    const cpuBefore = app.cpuMs();
    const mainBefore = app.mainThreadMs();
    const sampler = sampleConnections(ctx.server, ctx.prefix, 250);
    let result;
    let connections;
    try {
      result = await load({
        port: app.port,
        path: '/api/crops?limit=20',
        connections: 20,
        seconds: ctx.quick ? 3 : 60,
        pickHeaders: () => headers[draw()],
      });
    } finally {
      connections = await sampler.stop();
    }
    const cpu = cpuPerRequest(result, (app.cpuMs() - cpuBefore) * 1000);
    const main = mainThreadShares(result, mainBefore, app.mainThreadMs());
    const after = (await app.stats()).registry;
    if (profile) ctx.log(`profile: ${await profile.collect(app.pid)}`);
    const hits = after.hits - before.hits;
    const opens = after.opens - before.opens;
    const warmRps = ctx.results.warm && ctx.results.warm.appRps;
    return {
      tenants: tenants.length,
      warmUpSeconds: ctx.quick ? 1 : WARM_UP_S,
      warmUpRps: round(warmUp.rps),
      rps: round(result.rps),
      p50Ms: result.p50,
      p99Ms: result.p99,
      errors: result.errors,
      pgConnectionsMax: connections.peak,
      connectionSamples: connections.samples,
      // A ratio to the warm scenario of the same run only (`--only=warm,zipf`); left out without one.
      ...(warmRps ? { throughputVsWarm: round(result.rps / warmRps, 3) } : {}),
      appCpuUsPerRequest: round(cpu.cpuUsPerRequest),
      serverCpuUsPerRequest: round(cpu.serverCpuUsPerRequest),
      idleShare: round(result.idleShare, 3),
      stealShare: round(result.stealShare, 3),
      ...(main.mainThreadRunShare === undefined
        ? {}
        : {
            appMainThreadRunShare: round(main.mainThreadRunShare, 3),
            appMainThreadWaitShare: round(main.mainThreadWaitShare, 3),
          }),
      opensPerRequest: round(opens / result.requests, 3),
      registryHitRate: round(hits / (hits + opens), 4),
      registryOpens: opens,
      registryReopens: after.reopens - before.reopens,
      registryEvictions: after.evictions - before.evictions,
      registryOpenAtEnd: after.open,
      registryKeptAtEnd: after.kept,
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
