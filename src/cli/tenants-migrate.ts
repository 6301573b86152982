import { runFleetCommand } from './run-fleet-command';

/** `npm run tenants:migrate`: brings every tenant database (and the template) to the latest tenant migration. */
void runFleetCommand(
  (result) =>
    `${result.tenantId}: ${result.migrations.length > 0 ? `applied ${result.migrations.join(', ')}` : 'up to date'}`,
  (fleet, onResult) => fleet.migrate(onResult),
);
