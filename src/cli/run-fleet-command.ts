import 'reflect-metadata';
import type { MigrationObject } from '@mikro-orm/core';
import { TENANT_MIGRATIONS } from '../../migrations/tenant';
import { loadConfigOrExit } from '../config/app-config';
import { DatabaseServer } from '../database/database-server';
import { FleetResult, TenantFleet } from '../tenancy/tenant-fleet';
import { TenantOrmFactory } from '../tenancy/tenant-orm.factory';

/**
 * Shared runner of the fleet commands: one line per tenant as it finishes, a summary, exit code 1 when any
 * tenant failed. Each tenant ORM gets a single connection, and as many maintenance sessions as workers take the
 * migration locks, so at most TENANT_MIGRATE_CONCURRENCY x 2 connections are open at once. `migrations` defaults
 * to the committed tenant migrations (the benchmark passes one more).
 */
export async function runFleetCommand(
  describe: (result: FleetResult) => string,
  run: (fleet: TenantFleet, onResult: (result: FleetResult) => void) => Promise<FleetResult[]>,
  migrations: MigrationObject[] = TENANT_MIGRATIONS,
): Promise<void> {
  const config = loadConfigOrExit();
  const server = await DatabaseServer.fromConfig(config, {
    maintenanceSessions: config.TENANT_MIGRATE_CONCURRENCY,
  });
  let failed = 0;
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
  process.exitCode = failed > 0 ? 1 : 0;
}
