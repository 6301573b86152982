'use strict';
/** Percentiles, medians and the seeded random numbers the scenarios draw from. */

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** The middle value, or the mean of the two middle values of an even count (nearest-rank p50 takes the lower one). */
function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** p50/p90/p99 of a list of timings, rounded to 0.1. */
function summary(values) {
  return {
    p50: round(median(values)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
  };
}

const round = (value, digits = 1) => Number(value.toFixed(digits));

/** Starts a monotonic clock; the returned function gives the milliseconds since. */
function stopwatch() {
  const started = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - started) / 1e6;
}

/** mulberry32: a small seeded generator, so every run draws the same tenant sequence. */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws ranks 0..n-1 with P(k) proportional to 1 / (k + 1)^s. */
function zipfSampler(n, s, random) {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / Math.pow(k + 1, s);
    cdf[k] = total;
  }
  return () => {
    const u = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

module.exports = { percentile, median, summary, round, stopwatch, seededRandom, zipfSampler };
