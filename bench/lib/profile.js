'use strict';
/**
 * CPU profiles of app processes (lib/cpu-profiler.js preloaded) and a plain-text summary: self time by package and
 * by function, and total (inclusive) time of the frames that matter for a request.
 */
const { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { ROOT } = require('./postgres');

const DIR = join(ROOT, 'bench', 'results', 'profiles');

function profiled(name) {
  mkdirSync(DIR, { recursive: true });
  const file = join(DIR, `${name}.cpuprofile`);
  rmSync(file, { force: true });
  return {
    nodeArgs: ['-r', join(__dirname, 'cpu-profiler.js')],
    env: { BENCH_CPU_PROFILE: file },
    /** Asks the app (pid) to write its profile, then writes the summary; returns the summary's path. */
    async collect(pid) {
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
      const out = join(DIR, `${name}.txt`);
      writeFileSync(out, summarize(JSON.parse(readFileSync(file, 'utf8'))));
      return out;
    },
  };
}

function packageOf({ url, functionName }) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1];
  if (url.startsWith('node:')) return 'node';
  if (url.includes('/dist/src/')) return 'app';
  return url;
}

function summarize(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfSamples = new Map();
  for (const id of profile.samples) selfSamples.set(id, (selfSamples.get(id) || 0) + 1);
  const total = profile.samples.length;
  const parents = new Map();
  for (const node of profile.nodes) for (const child of node.children || []) parents.set(child, node.id);
  const byPackage = new Map();
  const byFunction = new Map();
  const inclusive = new Map();
  for (const [id, count] of selfSamples) {
    const { callFrame } = nodes.get(id);
    const pkg = packageOf(callFrame);
    const fn = `${callFrame.functionName || '(anonymous)'} ${callFrame.url.replace(ROOT, '')}:${callFrame.lineNumber + 1}`;
    byPackage.set(pkg, (byPackage.get(pkg) || 0) + count);
    byFunction.set(fn, (byFunction.get(fn) || 0) + count);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parents.get(at)) {
      const frame = nodes.get(at).callFrame;
      const key = `${frame.functionName || '(anonymous)'} ${frame.url.replace(ROOT, '')}:${frame.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) || 0) + count);
    }
  }
  const pct = (n) => `${((100 * n) / total).toFixed(1).padStart(5)}%`;
  const top = (map, n) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, count]) => `${pct(count)}  ${key}`)
      .join('\n');
  return [
    `${total} samples`,
    '',
    'Self time by package:',
    top(byPackage, 25),
    '',
    'Self time by function:',
    top(byFunction, 60),
    '',
    'Total time (self + callees) by function:',
    top(inclusive, 120),
    '',
  ].join('\n');
}

module.exports = { profiled, summarize };
