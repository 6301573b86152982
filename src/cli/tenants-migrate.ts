import { runFleetCommand } from './run-fleet-command';

/** `npm run tenants:migrate`: brings every tenant database (and the template) to the latest tenant migration. */
void runFleetCommand({
  name: 'tenants:migrate',
  summary:
    'Applies the pending tenant migrations to the template and to every active tenant in the registry, a line each.',
  describe: (result) =>
    `${result.tenantId}: ${result.migrations.length > 0 ? `applied ${result.migrations.join(', ')}` : 'up to date'}`,
  run: (fleet, onResult) => fleet.migrate(onResult),
});
