/**
 * Starts (or, with `join`, joins) the embedded PostgreSQL of a data directory in a process of its own (the package
 * is ESM-only, which jest's workers cannot import), prints `SERVER <json>` and stops it when stdin ends.
 */
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';

async function main(): Promise<void> {
  const [dir, mode] = process.argv.slice(2);
  const server = await startEmbeddedPostgres(dir, Number(process.env.EMBEDDED_PG_PORT ?? 0), {
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
