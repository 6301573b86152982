import { runFleetCommand } from './run-fleet-command';

/** `npm run tenants:status`: lists each tenant database's pending migrations. */
void runFleetCommand({
  name: 'tenants:status',
  summary:
    'Lists the pending tenant migrations of the template and of every active tenant in the registry, a line each.',
  describe: (result) =>
    `${result.tenantId}: ${result.migrations.length > 0 ? `pending ${result.migrations.join(', ')}` : 'up to date'}`,
  run: (fleet, onResult) => fleet.status(onResult),
});
