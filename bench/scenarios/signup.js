'use strict';
/**
 * signup: 50 sequential POST /organizations against two apps, one with the spare pool (TENANT_SPARE_POOL=2) and
 * one without (0), each with its own prefix, alternating which goes first. Before each sign-up, on either app, the
 * pool is given the time to refill (sign-ups arrive one at a time, not in a burst), so that neither side is timed
 * while the other app clones a database.
 */
const { summary } = require('../lib/stats');

module.exports = async function signup(ctx) {
  const count = ctx.quick ? 5 : 50;
  const withSpares = await ctx.startApp('signup-spares', {
    prefix: `${ctx.runPrefix}s_`,
    env: { TENANT_SPARE_POOL: '2' },
  });
  const without = await ctx.startApp('signup-nospares', {
    prefix: `${ctx.runPrefix}n_`,
    env: { TENANT_SPARE_POOL: '0' },
  });
  const timings = { spares: [], none: [] };
  try {
    const signUp = async (app, key, i) => {
      await withSpares.waitForSpares();
      const res = await ctx.expectOk(
        app.postAsPlatform('/organizations', {
          name: `Signup Farm ${String(i).padStart(4, '0')}`,
          farmType: 'mixed',
        }),
      );
      timings[key].push(res.ms);
    };
    await signUp(withSpares, 'spares', 9999);
    await signUp(without, 'none', 9999);
    timings.spares.length = 0;
    timings.none.length = 0;
    for (let i = 0; i < count; i++) {
      if (i % 2 === 0) {
        await signUp(withSpares, 'spares', i);
        await signUp(without, 'none', i);
      } else {
        await signUp(without, 'none', i);
        await signUp(withSpares, 'spares', i);
      }
    }
  } finally {
    await withSpares.stop();
    await without.stop();
  }
  const spares = summary(timings.spares);
  const none = summary(timings.none);
  return {
    signups: count,
    withSparesP50Ms: spares.p50,
    withSparesP90Ms: spares.p90,
    withSparesP99Ms: spares.p99,
    withoutSparesP50Ms: none.p50,
    withoutSparesP90Ms: none.p90,
    withoutSparesP99Ms: none.p99,
  };
};

module.exports.targets = { withSparesP50Ms: ['<=', 40], withoutSparesP50Ms: ['<=', 150] };
