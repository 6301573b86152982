import { runFleetCommand } from './run-fleet-command';

/** `npm run tenants:status`: lists each tenant database's pending migrations. */
void runFleetCommand(
  (result) =>
    `${result.tenantId}: ${result.migrations.length > 0 ? `pending ${result.migrations.join(', ')}` : 'up to date'}`,
  (fleet, onResult) => fleet.status(onResult),
);
