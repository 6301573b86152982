import 'reflect-metadata';
import type { MigrationObject } from '@mikro-orm/core';
import { TENANT_MIGRATIONS } from '../../migrations/tenant';
import { describeError } from '../common/error-text';
import { loadConfigOrExit } from '../config/app-config';
import { DatabaseServer } from '../database/database-server';
import { FleetResult, TenantFleet } from '../tenancy/tenant-fleet';
import { TenantOrmFactory } from '../tenancy/tenant-orm.factory';

/** A fleet command: its usage text, how a tenant's result reads, and what it does to the fleet. */
export interface FleetCommand {
  usage: string;
  describe: (result: FleetResult) => string;
  run: (fleet: TenantFleet, onResult: (result: FleetResult) => void) => Promise<FleetResult[]>;
  /** The tenant migrations: the committed ones unless given (the benchmark passes one more). */
  migrations?: MigrationObject[];
}

const SETTINGS =
  'Settings come from the environment and .env (DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, TENANT_DB_PREFIX, ' +
  'TENANT_MIGRATE_CONCURRENCY). Exit code 0: every database ok; 1: one failed or the registry could not be read; ' +
  '2: a bad argument.';

/**
 * Shared runner of the fleet commands: one line per tenant as it finishes, a summary, exit code 1 when any
 * tenant failed or the fleet could not be listed (said in one line, no stack). It takes no arguments: `--help`
 * prints the usage, anything else is refused (2) before any database is touched. Each tenant ORM gets a single
 * connection, and as many maintenance sessions as workers take the migration locks, so at most
 * TENANT_MIGRATE_CONCURRENCY x 2 connections are open at once.
 */
export async function runFleetCommand(
  { usage, describe, run, migrations = TENANT_MIGRATIONS }: FleetCommand,
  args: string[] = process.argv.slice(2),
): Promise<void> {
  if (args.length > 0) {
    const help = args.length === 1 && ['--help', '-h'].includes(args[0]);
    (help ? console.log : console.error)(
      `${help ? '' : `Unknown argument: ${args.join(' ')}\n`}${usage}\n${SETTINGS}`,
    );
    process.exitCode = help ? 0 : 2;
    return;
  }
  const config = loadConfigOrExit();
  let failed = 0;
  try {
    const server = await DatabaseServer.fromConfig(config, {
      maintenanceSessions: config.TENANT_MIGRATE_CONCURRENCY,
    });
    try {
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
    console.error(`The tenants could not be listed: ${describeError(error)}`);
    failed++;
  }
  process.exitCode = failed > 0 ? 1 : 0;
}
