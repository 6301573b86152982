'use strict';
/**
 * `tenants:migrate` as the fleet scenario runs it: the built fleet runner with the committed tenant migrations plus
 * one that adds a column, so there is something to apply. Same environment and output as the real command.
 */
const { join } = require('node:path');
const { Migration } = require('@mikro-orm/migrations');

const dist = join(__dirname, '..', 'dist');
const { runFleetCommand } = require(join(dist, 'src', 'cli', 'run-fleet-command'));
const { TENANT_MIGRATIONS } = require(join(dist, 'migrations', 'tenant'));

class AddBenchNoteColumn extends Migration {
  up() {
    this.addSql('alter table "crops" add column "bench_note" text null;');
  }
}

void runFleetCommand({
  name: 'bench/fleet-migrate.js',
  summary: 'tenants:migrate with one more migration, for the fleet scenario',
  describe: (result) =>
    `${result.tenantId}: ${result.migrations.length > 0 ? `applied ${result.migrations.join(', ')}` : 'up to date'}`,
  run: (fleet, onResult) => fleet.migrate(onResult),
  migrations: [...TENANT_MIGRATIONS, { name: 'Migration99990101000000', class: AddBenchNoteColumn }],
});
