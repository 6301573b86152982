import { EntityComparator, MetadataStorage, MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, Options, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { AppConfig } from '../config/app-config';
import { DatabaseServer, OLDEST_SERVER_VERSION } from '../database/database-server';
import { withMigrationTimeouts } from '../database/migrate-to-latest';
import { TENANT_MIGRATIONS } from '../../migrations/tenant';
import { TENANT_ENTITIES } from './tenant-entities';

export type TenantOrm = MikroORM;

/** The settings a tenant ORM is built from. */
export type TenantOrmConfig = Pick<
  AppConfig,
  'TENANT_POOL_MAX' | 'TENANT_POOL_IDLE_MS' | 'DB_STATEMENT_TIMEOUT_MS' | 'DB_MIGRATION_LOCK_TIMEOUT_MS'
>;

/** What knex is told the server's version is (see tenantOrmOptions): the oldest PostgreSQL we run on. */
const KNEX_POSTGRES_VERSION = String(OLDEST_SERVER_VERSION / 10_000);

/** The private parts of MikroORM that `MikroORM.init` sets up after discovery. */
interface MikroOrmInternals {
  metadata: MetadataStorage;
  driver: PostgreSqlDriver & DriverInternals;
  em: GlobalFlag;
}

/** Where MikroORM keeps the services it compiles code into (hydrators, snapshots, result mappers). */
interface CompiledServices {
  /** Configuration's per-ORM service cache, keyed by class name. */
  cache: Map<string, unknown>;
}
interface DriverInternals {
  comparator: EntityComparator;
}
interface GlobalFlag {
  global: boolean;
}

/** Options for one tenant database. The contextName keeps each tenant's RequestContext fork apart. */
export function tenantOrmOptions(
  server: Pick<DatabaseServer, 'ormConnection' | 'socketOptions'>,
  config: TenantOrmConfig,
  dbName: string,
  contextName: string,
  migrations: MigrationObject[] = TENANT_MIGRATIONS,
): Options {
  return {
    ...server.ormConnection(),
    dbName,
    contextName,
    entities: TENANT_ENTITIES,
    extensions: [Migrator],
    allowGlobalContext: false,
    ensureDatabase: false,
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: config.TENANT_POOL_MAX, idleTimeoutMillis: config.TENANT_POOL_IDLE_MS },
    driverOptions: {
      connection: {
        ...server.socketOptions,
        application_name: `farm-management:${contextName}`,
        // A startup parameter: PostgreSQL applies it to the session without a statement (0 is not sent).
        statement_timeout: config.DB_STATEMENT_TIMEOUT_MS,
      },
      // Without it, knex spends a round trip (`select version()`) on the first connection of every tenant pool;
      // it only uses the answer to prefer json over text for PostgreSQL >= 9.2, which every server we support is.
      version: KNEX_POSTGRES_VERSION,
    },
    migrations: {
      tableName: 'mikro_orm_migrations',
      path: 'migrations/tenant',
      pathTs: 'migrations/tenant',
      snapshotName: '.snapshot-tenant',
      migrationsList: withMigrationTimeouts(migrations, config.DB_MIGRATION_LOCK_TIMEOUT_MS),
      transactional: true,
      allOrNothing: true,
      emit: 'ts',
      silent: true,
      // Runtime migrations must not introspect the schema and rewrite the committed snapshot after each run.
      snapshot: false,
    },
    debug: false,
  };
}

/**
 * Entity metadata discovered once per process and shared by every tenant ORM: discovery costs ~19 ms per
 * `MikroORM.init`, an ORM built on shared metadata ~1 ms. So are the services MikroORM generates code into (the
 * hydrator, the entity comparator of the EntityManager and of the driver): each ORM would otherwise compile its own
 * functions with `new Function` on first use and run them unoptimized, which the zipf benchmark's profile showed
 * to dominate a tenant's first requests when thousands of ORMs are opened a minute. Their generated code depends on
 * the metadata and the platform only, which every tenant shares. Unlike `MikroORM.init`, a tenant ORM does not
 * decorate the entity prototypes again: they are decorated once, by the factory's own ORM, so opening a tenant
 * neither redefines properties on shared prototypes (which made V8 throw away optimized code on every opening) nor
 * points them at whichever tenant opened last. This reaches into MikroORM internals (what `MikroORM.init` does
 * after discovery, the configuration's service cache, the driver's comparator), which is why @mikro-orm/* is
 * pinned exactly and test/tenant-orm-factory.e2e-spec.ts covers it.
 */
export class TenantOrmFactory {
  private readonly metadata: MetadataStorage;
  private readonly services: [string, unknown][];
  private readonly driverComparator: EntityComparator;

  constructor(
    private readonly server: Pick<DatabaseServer, 'ormConnection' | 'socketOptions'>,
    private readonly config: TenantOrmConfig,
    private readonly migrations: MigrationObject[] = TENANT_MIGRATIONS,
  ) {
    const prototype = MikroORM.initSync(tenantOrmOptions(server, config, 'unused', 'tenant:metadata'));
    this.metadata = prototype.getMetadata();
    const hydrator = prototype.config.getHydrator(this.metadata);
    const comparator = prototype.config.getComparator(this.metadata);
    this.services = [
      [hydrator.constructor.name, hydrator],
      [comparator.constructor.name, comparator],
    ];
    this.driverComparator = (prototype.em.getDriver() as unknown as DriverInternals).comparator;
  }

  /** The name of the last tenant migration this factory's ORMs apply. */
  get latestMigration(): string {
    return this.migrations[this.migrations.length - 1]?.name ?? '';
  }

  /** Whether `name` is one of the tenant migrations this factory's ORMs apply. */
  appliesMigration(name: string): boolean {
    return this.migrations.some((migration) => migration.name === name);
  }

  /** An ORM for one tenant database, not yet connected (the pool opens connections on first use). */
  create(dbName: string, contextName: string): TenantOrm {
    const orm = new MikroORM(
      tenantOrmOptions(this.server, this.config, dbName, contextName, this.migrations),
    );
    const internals = orm as unknown as MikroOrmInternals;
    internals.metadata = this.metadata;
    const { cache } = orm.config as unknown as CompiledServices;
    for (const [name, service] of this.services) cache.set(name, service);
    internals.driver.setMetadata(this.metadata);
    internals.driver.comparator = this.driverComparator;
    internals.em = internals.driver.createEntityManager();
    internals.em.global = true;
    orm.em.getPlatform().init(orm);
    for (const extension of orm.config.get('extensions')) {
      extension.register(orm);
    }
    return orm;
  }
}
