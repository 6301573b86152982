'use strict';
/**
 * Warm's load and the app as warm runs it: the warm scenario measures them against the baseline, zipf's reference
 * rounds against zipf (scenarios/warm.js, scenarios/zipf.js).
 */
const { measuredLoad } = require('./load');
const { round } = require('./stats');

/**
 * Idle time after which warm's app (and the baseline) close a pooled connection: longer than a side's longest pause
 * between two of its rounds in warm (the rounds alternate A B | B A, so 32 s with their warm-ups), so that neither
 * reconnects in the middle of the measurement.
 */
const POOL_IDLE_MS = '60000';

/**
 * Seconds of load before a fresh app's first measured round: it clones its spare databases right after it starts,
 * and JIT-compiles its request path in the first seconds (with 3 s of warm-up, the app's first round ran 15-25 %
 * slower).
 */
const FIRST_WARM_UP_SECONDS = 10;

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

/** Seconds of a measured round. */
const ROUND_SECONDS = 10;

/** The app as warm runs it. */
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

/** A measured round for the log. */
const describeRound = (side) =>
  `${round(side.rps)} req/s p99 ${round(side.p99)} ms, CPU µs/req ${round(side.cpuUsPerRequest)} own ` +
  `${round(side.serverCpuUsPerRequest)} rest, ${round(100 * side.idleShare)} % idle, ` +
  `${round(100 * side.stealShare)} % stolen` +
  (side.mainThreadRunShare === undefined
    ? ''
    : `, main thread ${round(100 * side.mainThreadRunShare)} % running, ` +
      `${round(100 * side.mainThreadWaitShare)} % waiting for a CPU`);

module.exports = {
  POOL_IDLE_MS,
  FIRST_WARM_UP_SECONDS,
  ROUND_WARM_UP_SECONDS,
  ROUND_SECONDS,
  startWarmApp,
  warmTenants,
  warmLoad,
  describeRound,
};
