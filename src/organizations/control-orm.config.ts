import { Migrator } from '@mikro-orm/migrations';
import { Options } from '@mikro-orm/postgresql';
import { AppConfig } from '../config/app-config';
import { type DatabaseServer } from '../database/database-server';
import { withMigrationTimeouts } from '../database/migrate-to-latest';
import { CONTROL_MIGRATIONS } from '../../migrations/control';
import { SpareDatabase } from '../tenancy/spare-database.entity';
import { Organization } from './organization.entity';

/** The control-plane database: the registry of organizations (tenants) and the pool of spare databases. */
export function controlOrmOptions(
  server: Pick<DatabaseServer, 'ormConnection' | 'socketOptions'>,
  config: Pick<
    AppConfig,
    'DB_NAME' | 'CONTROL_POOL_MAX' | 'DB_STATEMENT_TIMEOUT_MS' | 'DB_MIGRATION_LOCK_TIMEOUT_MS'
  >,
): Options {
  return {
    ...server.ormConnection(),
    dbName: config.DB_NAME,
    entities: [Organization, SpareDatabase],
    extensions: [Migrator],
    allowGlobalContext: false,
    ensureDatabase: false,
    pool: { min: 0, max: config.CONTROL_POOL_MAX, idleTimeoutMillis: 30_000 },
    driverOptions: {
      connection: {
        ...server.socketOptions,
        application_name: 'farm-management:control',
        statement_timeout: config.DB_STATEMENT_TIMEOUT_MS,
      },
    },
    migrations: {
      tableName: 'mikro_orm_migrations',
      path: 'migrations/control',
      pathTs: 'migrations/control',
      snapshotName: '.snapshot-control',
      migrationsList: withMigrationTimeouts(CONTROL_MIGRATIONS, config.DB_MIGRATION_LOCK_TIMEOUT_MS),
      transactional: true,
      allOrNothing: true,
      emit: 'ts',
      silent: true,
      // Runtime migrations must not introspect the schema and rewrite the committed snapshot after each run.
      snapshot: false,
    },
  };
}
