'use strict';
/**
 * The PostgreSQL server of a bench run: DB_HOST when set, else an embedded server under .data/bench-postgres (so
 * heavy runs never load a shared server). Also the SQL the scenarios need: drop by prefix, seed crops, sample
 * connections, wait for tenant connections to close.
 */
const { Client } = require('pg');
const { existsSync, readFileSync } = require('node:fs');
const { resolve } = require('node:path');

const ROOT = resolve(__dirname, '..', '..');

async function startServer() {
  if (process.env.DB_HOST) {
    return {
      host: process.env.DB_HOST,
      port: Number(process.env.DB_PORT || 5432),
      user: process.env.DB_USER || 'postgres',
      password: process.env.DB_PASSWORD || 'postgres',
      embedded: false,
      stop: async () => undefined,
    };
  }
  const dir = `${ROOT}/.data/bench-postgres`;
  if (runningPostmaster(dir)) {
    // Joining would let the other run stop the server under this one when it finishes.
    throw new Error(`Another bench run is using the embedded PostgreSQL in ${dir}; wait until it ends`);
  }
  const { startEmbeddedPostgres } = require(`${ROOT}/dist/src/database/embedded-postgres`);
  // The run stops it once it has dropped its databases, also on a signal (run.js).
  const server = await startEmbeddedPostgres(dir, 0, { stopOnSignals: false });
  return {
    ...server,
    embedded: true,
    // Ctrl-C in a terminal reaches the server too, which may have exited by now: the package's stop() would then wait
    // for an exit that has happened.
    stop: async () => {
      if (!runningPostmaster(dir)) return;
      let timer;
      const stopped = Promise.race([
        server.stop(),
        new Promise((r) => (timer = setTimeout(r, STOP_WAIT_MS))),
      ]);
      await stopped.finally(() => clearTimeout(timer));
    },
  };
}

/** How long stopping the embedded server may take (a fast shutdown takes well under a second). */
const STOP_WAIT_MS = 15_000;

function runningPostmaster(dir) {
  const pidFile = `${dir}/postmaster.pid`;
  if (!existsSync(pidFile)) return false;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 0);
    return true;
  } catch {
    return false;
  }
}

/** The bench's own sessions (this sampler, the run's lock, seeding), which the connection samples leave out. */
const BENCH_APPLICATION_NAME = 'farm-management:bench';

async function connect(server, database = 'postgres', options = {}) {
  const client = new Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database,
    application_name: BENCH_APPLICATION_NAME,
    ...options,
  });
  // An idle client's connection can be ended by the server (e.g. its shutdown): report it, do not crash the run.
  client.on('error', (error) => console.error(`[bench] PostgreSQL connection error: ${error.message}`));
  await client.connect();
  return client;
}

async function withClient(server, database, work) {
  const client = await connect(server, database);
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The control database of the apps whose TENANT_DB_PREFIX is `prefix` (lib/app.js gives it to them as DB_NAME). */
const controlDatabase = (prefix) => `${prefix.slice(0, -1)}control`;

const quote = (name) => `"${name.replace(/"/g, '""')}"`;

/**
 * Drops every database whose name matches `pattern` (a regular expression), four at a time (each drop takes
 * ~0.2 s); a drop that fails is tried once more after the others, then reported by the error thrown.
 */
async function dropDatabases(server, pattern) {
  const names = await withClient(server, 'postgres', async (client) => {
    const { rows } = await client.query('SELECT datname FROM pg_database WHERE datname ~ $1', [pattern]);
    return rows.map((row) => row.datname);
  });
  /** Drops `list`; returns what is left: name -> why (a failed drop's error, or a connection that failed first). */
  const dropAll = async (list) => {
    const queue = [...list];
    const left = new Map();
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () =>
        withClient(server, 'postgres', async (client) => {
          for (let name = queue.shift(); name; name = queue.shift()) {
            await client
              .query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`)
              .catch((error) => left.set(name, error.message));
          }
        }),
      ),
    );
    const failure = results.find((result) => result.status === 'rejected');
    for (const name of queue) left.set(name, failure ? failure.reason.message : 'not reached');
    return left;
  };
  let left = await dropAll(names);
  // Once more for those that failed (a connection lost on the way, a database a sign-up was renaming).
  if (left.size > 0) left = await dropAll([...left.keys()]);
  if (left.size > 0) {
    const why = [...left].map(([name, message]) => `${name} (${message})`).join(', ');
    throw new Error(`Could not drop ${left.size} database(s): ${why}`);
  }
  return names.length;
}

/** A bench run's databases: its prefix (`bench` + 6 hex digits) and the apps' `m_`, `s_`, `n_` and `mcontrol`. */
const runDatabases = (runPrefixes) => `^(${runPrefixes.join('|')})`;

/** The advisory lock a run holds for its whole length: other runs leave its databases alone. */
const runLockKey = (runPrefix) => `farm-bench-run:${runPrefix}`;

/**
 * Takes the run's lock on a session of its own, held until `release()` (or the process's end, when the server ends
 * the session): kept while idle (TCP keepalive, no idle_session_timeout). `lost()` says whether the session ended
 * before its release, after which another run may have dropped this one's databases.
 */
async function holdRunLock(server, runPrefix) {
  const client = await connect(server, 'postgres', { keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  let lost;
  client.on('error', (error) => (lost ??= error));
  const { advisoryLock } = require(`${ROOT}/dist/src/database/advisory-lock`);
  const { keepWhileIdle } = require(`${ROOT}/dist/src/database/database-server`);
  await keepWhileIdle(client);
  await advisoryLock(client, runLockKey(runPrefix));
  return { release: () => client.end(), lost: () => lost };
}

/**
 * Drops the databases of earlier runs that ended without their cleanup (a killed process, a lost terminal): those
 * of every run whose lock no session holds. Returns how many.
 */
async function dropAbandonedRuns(server) {
  return withClient(server, 'postgres', async (client) => {
    const { rows } = await client.query(
      `SELECT DISTINCT substring(datname from '^bench[0-9a-f]{6}') AS run FROM pg_database
        WHERE datname ~ '^bench[0-9a-f]{6}'`,
    );
    const { tryAdvisoryLock } = require(`${ROOT}/dist/src/database/advisory-lock`);
    const abandoned = [];
    for (const { run } of rows) {
      if (await tryAdvisoryLock(client, runLockKey(run))) abandoned.push(run);
    }
    // The locks taken stay held until the drops are done (the client's end releases them).
    return abandoned.length > 0 ? dropDatabases(server, runDatabases(abandoned)) : 0;
  });
}

/** Replaces a database's crops with `count` rows, created a minute apart. */
async function seedCrops(server, database, count) {
  await withClient(server, database, (client) =>
    client.query(
      `DELETE FROM crops;
       INSERT INTO crops (id, created_at, updated_at, name, planting_date)
       SELECT gen_random_uuid(), now() - i * interval '1 minute', now(), 'Crop ' || i, date '2025-01-01' + i
       FROM generate_series(1, ${Number(count)}) AS i`,
    ),
  );
}

/**
 * Samples every `everyMs` the client connections PostgreSQL holds for this run's apps: on an embedded server (ours
 * alone) every client backend but the bench's own, on a shared one those to the apps' tenant databases (`prefix`)
 * and their control database, and every app's maintenance session (on `postgres`, named `farm-management:admin`;
 * another deployment's on the same server would count too). Call stop() for the peak.
 */
function sampleConnections(server, prefix, everyMs = 250) {
  const sql = server.embedded
    ? `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND application_name <> '${BENCH_APPLICATION_NAME}'`
    : `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE (starts_with(datname, $1) OR datname = $2
               OR (datname = 'postgres' AND application_name = 'farm-management:admin'))
          AND application_name <> '${BENCH_APPLICATION_NAME}'`;
  const params = server.embedded ? [] : [prefix, controlDatabase(prefix)];
  let running = true;
  let peak = 0;
  let samples = 0;
  const done = (async () => {
    const client = await connect(server);
    try {
      while (running) {
        const { rows } = await client.query(sql, params);
        peak = Math.max(peak, rows[0].n);
        samples++;
        await new Promise((r) => setTimeout(r, everyMs));
      }
    } finally {
      await client.end();
    }
  })();
  // Reported by stop(); until then a failure must not end the process as an unhandled rejection.
  done.catch(() => undefined);
  return {
    async stop() {
      running = false;
      await done;
      return { peak, samples };
    },
  };
}

/**
 * Resolves once no tenant pool holds a connection to a database starting with `prefix` (their application_name is
 * `farm-management:tenant:<id>`, see src/tenancy/tenant-orm.factory.ts), polling every 250 ms; throws after
 * `timeoutMs`.
 */
async function waitForTenantConnectionsClosed(server, prefix, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  await withClient(server, 'postgres', async (client) => {
    for (;;) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE starts_with(datname, $1) AND starts_with(application_name, 'farm-management:tenant:')`,
        [prefix],
      );
      if (rows[0].n === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`${rows[0].n} tenant connection(s) still open after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  });
}

module.exports = {
  ROOT,
  startServer,
  connect,
  withClient,
  controlDatabase,
  dropDatabases,
  runDatabases,
  holdRunLock,
  dropAbandonedRuns,
  seedCrops,
  sampleConnections,
  waitForTenantConnectionsClosed,
  quote,
};
