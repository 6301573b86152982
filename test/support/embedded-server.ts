/**
 * Starts (or, with `join`, joins) the embedded PostgreSQL of a data directory (on the port given third, else a free
 * one) in a process of its own (the package is ESM-only, which jest's workers cannot import), prints
 * `SERVER <json>` and stops it when stdin ends.
 */
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';

async function main(): Promise<void> {
  const [dir, mode, preferredPort = '0'] = process.argv.slice(2);
  const server = await startEmbeddedPostgres(dir, Number(preferredPort), {
    startIfMissing: mode !== 'join',
  });
  const { host, port, user, password } = server;
  process.stdout.write(`SERVER ${JSON.stringify({ host, port, user, password })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void server.stop().then(() => process.exit(0)));
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
