'use strict';
/**
 * The run's control: how fast its PostgreSQL starts backends, measured before the tenants are seeded. Four clients
 * connect to the `postgres` database over the apps' route (the embedded server's Unix socket, or DB_HOST), run
 * `SELECT 1` and disconnect, again and again. A backend start is what cold, zipf, signup and fleet pay for most, and
 * its cost moved by more than ten times between the machines of bench/README.md (42 to 614 connections/s with
 * `pgbench -C`), so a run's figures are read against it.
 */
const { machineCpuUs } = require('./load');
const { withClient } = require('./postgres');
const { round, stopwatch } = require('./stats');

const CLIENTS = 4;

/**
 * Connections per second, and the machine's busy CPU per connection less this process's own (PostgreSQL, the kernel
 * and any other process; meaningful only with the server on this machine).
 */
async function connectionControl(server, seconds) {
  const machineBefore = machineCpuUs().busy;
  const ownBefore = process.cpuUsage();
  const elapsedMs = stopwatch();
  let connections = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (!failed && elapsedMs() < seconds * 1000) {
        try {
          await withClient(server, 'postgres', (client) => client.query('SELECT 1'));
        } catch (error) {
          // The run fails with it; the other clients stop too instead of connecting on during the cleanup.
          failed = true;
          throw error;
        }
        connections++;
      }
    }),
  );
  const wallMs = elapsedMs();
  const own = process.cpuUsage(ownBefore);
  const serverUs = machineCpuUs().busy - machineBefore - own.user - own.system;
  return {
    clients: CLIENTS,
    connectionsPerSecond: round((connections * 1000) / wallMs),
    serverCpuMsPerConnection: round(serverUs / connections / 1000, 2),
  };
}

module.exports = { connectionControl };
