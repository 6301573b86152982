import { Injectable } from '@nestjs/common';
import { advisoryLock, lockKey } from '../database/advisory-lock';
import { DatabaseServer } from '../database/database-server';
import { TenantDatabaseNames } from './tenant-database-names';
import { TenantSparePool } from './tenant-spare-pool';
import { TenantTemplate } from './tenant-template';

/**
 * Creates tenant databases. Each step is idempotent, so a retry or a restart finishes a half-done job: a missing
 * database is a claimed spare (renamed, already at the latest migration) or else a clone of the template
 * (`CREATE DATABASE ... TEMPLATE ... STRATEGY = WAL_LOG`), then brought to the latest tenant migration (a no-op
 * when the template was current). A lock per database name keeps concurrent attempts from both creating it; it
 * all runs in one maintenance session (the server's client, and the new database's for the migration check).
 */
@Injectable()
export class TenantProvisioner {
  constructor(
    private readonly server: DatabaseServer,
    private readonly names: TenantDatabaseNames,
    private readonly template: TenantTemplate,
    private readonly spares: TenantSparePool,
  ) {}

  async provision(tenantId: string): Promise<void> {
    const databaseName = this.names.forTenant(tenantId);
    await this.template.ensure();
    await this.server.withAdminClient(async (client) => {
      await advisoryLock(client, lockKey(`database:${databaseName}`));
      if (!(await this.server.databaseExists(client, databaseName))) {
        if (await this.spares.claim(databaseName)) return;
        await this.template.clone(client, databaseName);
      }
      await this.template.migrate(databaseName, client);
    });
  }
}
