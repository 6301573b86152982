'use strict';
/**
 * Preloaded (-r) into an app the benchmark profiles: starts V8's CPU profiler at once and writes the profile to
 * BENCH_CPU_PROFILE on SIGUSR2, so the profile covers the load and is written before the app is stopped.
 */
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');

const session = new inspector.Session();
session.connect();
session.post('Profiler.enable', () =>
  session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')),
);
process.once('SIGUSR2', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(process.env.BENCH_CPU_PROFILE, JSON.stringify(result.profile));
  });
});
