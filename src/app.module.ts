import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AuthModule } from './auth/auth.module';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { createValidationPipe } from './common/validation.pipe';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { DatabaseServer } from './database/database-server';
import { CropsModule } from './crops/crops.module';
import { HarvestsModule } from './harvests/harvests.module';
import { HealthModule } from './health/health.module';
import { controlOrmOptions } from './organizations/control-orm.config';
import { OrganizationsModule } from './organizations/organizations.module';
import { ReportsModule } from './reports/reports.module';
import { TenantModule } from './tenancy/tenant.module';
import { UsersModule } from './users/users.module';

@Module({
  imports: [
    ConfigModule,
    DatabaseModule,
    MikroOrmModule.forRootAsync({
      inject: [DatabaseServer, AppConfig],
      driver: PostgreSqlDriver,
      useFactory: (server: DatabaseServer, config: AppConfig) => ({
        ...controlOrmOptions(server, config),
        registerRequestContext: false,
      }),
    }),
    TenantModule,
    AuthModule,
    OrganizationsModule,
    UsersModule,
    CropsModule,
    HarvestsModule,
    ReportsModule,
    HealthModule,
  ],
  providers: [
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
  ],
})
export class AppModule {}
