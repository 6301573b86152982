'use strict';
/**
 * cold: the first request to each of 200 existing tenants whose ORMs are closed, one at a time, in a freshly
 * started app (warmed up on other tenants first, so JIT and the control pool are warm). Repeated rounds, each in a
 * new process. The owners' tokens come from the seeding's app (same JWT secret), so no login touches a tenant
 * before its measured request.
 */
const { summary } = require('../lib/stats');

module.exports = async function cold(ctx) {
  const count = ctx.quick ? 10 : 200;
  const warmup = ctx.tenants.slice(0, 5);
  const targets = ctx.tenants.slice(ctx.tenants.length - count);
  const rounds = ctx.quick ? 1 : 3;
  const samples = [];
  for (let round = 0; round < rounds; round++) {
    const app = await ctx.startApp(`cold-${round + 1}`);
    try {
      for (let i = 0; i < 200; i++) {
        await ctx.expectOk(app.get('/api/crops?limit=20', ctx.tenantHeaders(warmup[i % warmup.length])));
      }
      for (const tenant of targets) {
        const res = await ctx.expectOk(app.get('/api/crops?limit=20', ctx.tenantHeaders(tenant)));
        samples.push(res.ms);
      }
    } finally {
      await app.stop();
    }
  }
  const { p50, p90, p99 } = summary(samples);
  return { p50Ms: p50, p90Ms: p90, p99Ms: p99, tenants: count, rounds };
};

module.exports.targets = { p50Ms: ['<=', 25], p90Ms: ['<=', 50] };
