'use strict';
/**
 * memory: RSS and live heap (after a full GC) of a fresh app before and after 1,000 tenants have each been opened
 * once, with eviction on (TENANT_MAX_OPEN open at most), reported per tenant: with the default TENANT_MAX_KEPT
 * (the evicted tenants' ORMs and DI subtrees kept) and with TENANT_MAX_KEPT=0 (closed with their pools).
 */
const { round } = require('../lib/stats');

const MB = 1024 * 1024;

/** With `--quick` (20 tenants) 8 are kept open, so that the quick run evicts tenants as the full one does. */
const QUICK_ENV = { TENANT_MAX_OPEN: '8' };

module.exports = async function memory(ctx) {
  const kept = await measure(ctx, 'memory', {});
  const closed = await measure(ctx, 'memory-unkept', { TENANT_MAX_KEPT: '0' });
  return {
    ...kept,
    ...Object.fromEntries(
      Object.entries(closed).map(([metric, value]) => [`unkept${capitalized(metric)}`, value]),
    ),
  };
};

const capitalized = (name) => name[0].toUpperCase() + name.slice(1);

async function measure(ctx, name, env) {
  const tenants = ctx.tenants;
  const app = await ctx.startApp(name, {
    env: { ...(ctx.quick ? QUICK_ENV : {}), ...env },
    nodeArgs: ['--expose-gc'],
  });
  try {
    for (let i = 0; i < 100; i++) {
      await ctx.expectOk(app.get('/api/crops?limit=20', ctx.tenantHeaders(tenants[i % 2])));
    }
    const before = await app.stats();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < tenants.length) {
          const tenant = tenants[next++];
          await ctx.expectOk(app.get('/api/crops?limit=20', ctx.tenantHeaders(tenant)));
        }
      }),
    );
    const after = await app.stats();
    if (after.registry.evictions === before.registry.evictions) {
      throw new Error(`${name} evicted no tenant: its registry was never full`);
    }
    return {
      tenants: tenants.length,
      openAtEnd: after.registry.open,
      keptAtEnd: after.registry.kept,
      evictions: after.registry.evictions - before.registry.evictions,
      rssBeforeMb: round(before.memory.rss / MB),
      rssAfterMb: round(after.memory.rss / MB),
      heapBeforeMb: round(before.memory.heapUsed / MB),
      heapAfterMb: round(after.memory.heapUsed / MB),
      rssPerTenantKb: round((after.memory.rss - before.memory.rss) / 1024 / tenants.length, 2),
      heapPerTenantKb: round((after.memory.heapUsed - before.memory.heapUsed) / 1024 / tenants.length, 2),
    };
  } finally {
    await app.stop();
  }
}

module.exports.targets = {};
