'use strict';
/**
 * fleet: `tenants:status` with nothing pending, then `tenants:migrate` applying one added-column migration, over
 * every tenant of the run; wall time, lines printed, exit code and the PostgreSQL connections sampled meanwhile.
 */
const { execFile } = require('node:child_process');
const { join } = require('node:path');
const { ROOT, sampleConnections } = require('../lib/postgres');
const { round } = require('../lib/stats');

function runCli(ctx, script) {
  const env = {
    PATH: process.env.PATH,
    DB_HOST: ctx.server.host,
    DB_PORT: String(ctx.server.port),
    DB_USER: ctx.server.user,
    DB_PASSWORD: ctx.server.password,
    DB_NAME: `${ctx.prefix.slice(0, -1)}control`,
    TENANT_DB_PREFIX: ctx.prefix,
  };
  return new Promise((resolve) => {
    const started = Date.now();
    execFile(process.execPath, [script], { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      resolve({ code: error ? error.code : 0, ms: Date.now() - started, lines: stdout.split('\n') });
    });
  });
}

async function measure(ctx, script, pending) {
  const sampler = sampleConnections(ctx.server, ctx.prefix, 250);
  const result = await runCli(ctx, script);
  const { peak } = await sampler.stop();
  const tenantLines = result.lines.filter((line) => line.startsWith('bench-farm-'));
  const expected = new RegExp(`^bench-farm-\\d+: ${pending}`);
  const good = tenantLines.filter((line) => expected.test(line)).length;
  if (result.code !== 0 || good !== ctx.tenants.length) {
    throw new Error(
      `${script} exited ${result.code} with ${good}/${ctx.tenants.length} expected tenant lines`,
    );
  }
  return { seconds: round(result.ms / 1000, 2), peak, lines: tenantLines.length };
}

module.exports = async function fleet(ctx) {
  const status = await measure(ctx, join(ROOT, 'dist', 'src', 'cli', 'tenants-status.js'), 'up to date');
  const migrate = await measure(
    ctx,
    join(ROOT, 'bench', 'fleet-migrate.js'),
    'applied Migration99990101000000',
  );
  return {
    tenants: ctx.tenants.length,
    statusSeconds: status.seconds,
    statusPgConnectionsMax: status.peak,
    migrateSeconds: migrate.seconds,
    migratePgConnectionsMax: migrate.peak,
    migrateTenantLines: migrate.lines,
  };
};

module.exports.targets = {
  statusSeconds: ['<=', 10],
  migrateSeconds: ['<=', 40],
  migratePgConnectionsMax: ['<=', 10],
};
