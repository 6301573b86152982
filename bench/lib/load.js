'use strict';
/**
 * HTTP load with autocannon: GET a path, each request's headers (X-Tenant-ID and the tenant user's Authorization)
 * drawn by `pickHeaders`.
 */
const { readFileSync } = require('node:fs');
const autocannon = require('autocannon');
const { median, percentile, round, stopwatch } = require('./stats');

/**
 * The machine's CPU time so far from /proc/stat, in µs: busy (user, nice, system, irq, softirq), idle (idle and
 * iowait) and stolen (run by the hypervisor for other guests).
 */
function machineCpuUs() {
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  const usPerTick = 10_000;
  return {
    busy: (user + nice + system + irq + softirq) * usPerTick,
    idle: (idle + iowait) * usPerTick,
    steal: steal * usPerTick,
  };
}

/**
 * Besides latency and throughput: the machine's busy CPU time (every process, the database server included) and
 * this process's own (the load generator), in µs, and the shares of the machine's CPU time left idle and stolen by
 * the hypervisor, so that a scenario can tell its app's CPU from the rest; and the load's wall time in ms.
 * Latencies are those of the 2xx responses, in ms to 0.01, taken from each response's time as autocannon measures it
 * (its own percentiles come from a histogram of whole milliseconds, too coarse for a ratio of two p99s near 15 ms).
 */
async function load({ port, path, connections, seconds, pickHeaders }) {
  const machineBefore = machineCpuUs();
  const ownBefore = process.cpuUsage();
  const elapsed = stopwatch();
  const latencies = [];
  const run = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        path,
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...pickHeaders() } }),
      },
    ],
  });
  run.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
  });
  const result = await run;
  const wallMs = elapsed();
  const machineAfter = machineCpuUs();
  const own = process.cpuUsage(ownBefore);
  const busyUs = machineAfter.busy - machineBefore.busy;
  const idleUs = machineAfter.idle - machineBefore.idle;
  const stealUs = machineAfter.steal - machineBefore.steal;
  const totalUs = busyUs + idleUs + stealUs;
  return {
    machineBusyUs: busyUs,
    idleShare: idleUs / totalUs,
    stealShare: stealUs / totalUs,
    loadGeneratorUs: own.user + own.system,
    wallMs,
    rps: result.requests.average,
    requests: result.requests.total,
    p50: round(median(latencies), 2),
    p90: round(percentile(latencies, 90), 2),
    p99: round(percentile(latencies, 99), 2),
    // autocannon counts a timeout in `errors` too.
    errors: result.errors + result.non2xx,
  };
}

/**
 * A load's CPU time per request: the app's (appUs, read by the caller from /proc) and the rest of the machine's
 * busy time but the load generator's: the database server, the kernel's work for both, and any other process
 * (the sampler's backend; in warm, the idle other side).
 */
function cpuPerRequest(result, appUs) {
  return {
    cpuUsPerRequest: appUs / result.requests,
    serverCpuUsPerRequest: (result.machineBusyUs - appUs - result.loadGeneratorUs) / result.requests,
  };
}

/**
 * The shares of a load's wall time that an app's main thread spent running and waiting for a CPU (`before` and
 * `after` from the app's mainThreadMs()); none where the kernel keeps no scheduler statistics. Running plus waiting
 * near 1 means the thread is short of CPU even while the machine has idle time; what is left is time it was
 * blocked (waiting for I/O) or, on a virtual machine, stolen by the hypervisor (see the load's stealShare).
 */
function mainThreadShares(result, before, after) {
  if (!before || !after) return {};
  return {
    mainThreadRunShare: (after.run - before.run) / result.wallMs,
    mainThreadWaitShare: (after.wait - before.wait) / result.wallMs,
  };
}

/**
 * A side's main-thread shares as report keys (`<name>MainThreadRunShare`, `<name>MainThreadWaitShare`), rounded;
 * none when the shares are missing.
 */
function mainThreadReport(name, shares) {
  if (shares.mainThreadRunShare === undefined) return {};
  return {
    [`${name}MainThreadRunShare`]: round(shares.mainThreadRunShare, 3),
    [`${name}MainThreadWaitShare`]: round(shares.mainThreadWaitShare, 3),
  };
}

/** The medians of a side's main-thread shares over its rounds as report keys (see mainThreadReport). */
function mainThreadMedians(name, rounds) {
  if (!rounds.every((r) => r.mainThreadRunShare !== undefined)) return {};
  return mainThreadReport(name, {
    mainThreadRunShare: median(rounds.map((r) => r.mainThreadRunShare)),
    mainThreadWaitShare: median(rounds.map((r) => r.mainThreadWaitShare)),
  });
}

/**
 * A load on an app started by lib/app.js (`options` as for `load`, but the port), with the app's CPU time per request
 * and its main thread's shares of the wall time (see cpuPerRequest and mainThreadShares).
 */
async function measuredLoad(app, options) {
  const cpuBefore = app.cpuMs();
  const mainBefore = app.mainThreadMs();
  const result = await load({ ...options, port: app.port });
  return {
    ...result,
    ...cpuPerRequest(result, (app.cpuMs() - cpuBefore) * 1000),
    ...mainThreadShares(result, mainBefore, app.mainThreadMs()),
  };
}

module.exports = { load, machineCpuUs, mainThreadMedians, measuredLoad };
