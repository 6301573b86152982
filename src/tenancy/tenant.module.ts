import { Global, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DatabaseServer } from '../database/database-server';
import { InternalStatsController } from './internal-stats.controller';
import { TenantChangeListener } from './tenant-change-listener';
import { TenantConnectionRegistry } from './tenant-connection-registry';
import { TenantContextMiddleware } from './tenant-context.middleware';
import { TenantDatabaseNames } from './tenant-database-names';
import { tenantProviders } from './tenant-entity-manager';
import { TenantOrmFactory } from './tenant-orm.factory';
import { TenantProvisioner } from './tenant-provisioner';
import { TenantRegistry } from './tenant-registry';
import { TenantSparePool } from './tenant-spare-pool';
import { TenantTemplate } from './tenant-template';

/** Path prefix of every tenant route. */
export const TENANT_ROUTE_PREFIX = 'api';

/**
 * Tenancy: resolving and validating the tenant of a request, the cached registry lookup, the tenant-connection
 * registry, provisioning of tenant databases (template and spares), and the durable-per-tenant EntityManager for feature modules.
 */
@Global()
@Module({
  controllers: [InternalStatsController],
  providers: [
    {
      provide: TenantOrmFactory,
      inject: [DatabaseServer, AppConfig],
      useFactory: (server: DatabaseServer, config: AppConfig) => new TenantOrmFactory(server, config),
    },
    {
      provide: TenantDatabaseNames,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => TenantDatabaseNames.fromConfig(config),
    },
    TenantConnectionRegistry,
    TenantRegistry,
    TenantChangeListener,
    TenantTemplate,
    TenantSparePool,
    TenantProvisioner,
    ...tenantProviders,
  ],
  exports: [
    TenantTemplate,
    TenantConnectionRegistry,
    TenantRegistry,
    TenantProvisioner,
    TenantSparePool,
    TenantDatabaseNames,
    TenantOrmFactory,
    ...tenantProviders,
  ],
})
export class TenantModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(TenantContextMiddleware)
      .forRoutes({ path: `${TENANT_ROUTE_PREFIX}/*path`, method: RequestMethod.ALL });
  }
}
