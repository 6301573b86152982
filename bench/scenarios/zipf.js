'use strict';
/**
 * zipf: 1,000 tenants, each request's tenant drawn from a Zipf distribution (s = 1.1), 20 connections for 60 s after
 * 30 s of the same load, PostgreSQL's connections sampled every 250 ms, the connection registry's counters read before
 * and after.
 */
const { cpuPerRequest, load, mainThreadReport, mainThreadShares } = require('../lib/load');
const { round, seededRandom, zipfSampler } = require('../lib/stats');
const { sampleConnections } = require('../lib/postgres');
const { profiled } = require('../lib/profile');

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
 * Seconds of the same load before the measured minute, so that it sees the app in its steady state, as warm does
 * (10 s per side there): a fresh app JIT-compiles its request and opening paths on background threads, builds an
 * ORM and DI subtree at each tenant's first request, and its registry learns which tenants are requested most
 * (figures in bench/README.md, section 20:05–22:00 UTC: 130 req/s in the 20 s after 3 s, 163–173 req/s later).
 */
const WARM_UP_S = 30;

module.exports = async function zipf(ctx) {
  const tenants = ctx.tenants;
  const draw = zipfSampler(tenants.length, 1.1, seededRandom(42));
  const headers = tenants.map((tenant) => ctx.tenantHeaders(tenant));
  const profile = ctx.profile ? profiled('zipf-app') : undefined;
  const warmUpSeconds = ctx.quick ? 1 : WARM_UP_S;
  const app = await ctx.startApp('zipf', {
    env: { ...ZIPF_ENV, ...(profile ? profile.env : {}) },
    nodeArgs: profile ? profile.nodeArgs : [],
  });
  try {
    const warmUp = await load({
      port: app.port,
      path: '/api/crops?limit=20',
      connections: 20,
      seconds: warmUpSeconds,
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
      warmUpSeconds,
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
      ...mainThreadReport('app', main),
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
