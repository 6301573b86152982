'use strict';
/**
 * Preloaded (-r) into an app the benchmark profiles: starts V8's CPU profiler at once and writes the profile to
 * BENCH_CPU_PROFILE on SIGUSR2, so the profile covers the load and is written before the app is stopped.
 */
const inspector = require('node:inspector');
const { renameSync, writeFileSync } = require('node:fs');

const session = new inspector.Session();
session.connect();
session.post('Profiler.enable', () =>
  session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')),
);
process.once('SIGUSR2', () => {
  session.post('Profiler.stop', (error, result) => {
    if (error) return;
    // Renamed into place: the bench reads the file as soon as it exists.
    const file = process.env.BENCH_CPU_PROFILE;
    writeFileSync(`${file}.tmp`, JSON.stringify(result.profile));
    renameSync(`${file}.tmp`, file);
  });
});
