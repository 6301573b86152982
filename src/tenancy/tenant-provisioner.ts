import { Injectable } from '@nestjs/common';
import { advisoryLock, lockKey } from '../database/advisory-lock';
import { DatabaseServer } from '../database/database-server';
import { ConflictError } from '../common/domain-errors';
import type { TenantRecord } from './tenant-registry';
import { TenantSparePool } from './tenant-spare-pool';
import { TenantTemplate } from './tenant-template';

/**
 * A first sign-up attempt found its database name taken by a database that has run tenant migrations: another
 * deployment's tenant on the same server, or one a control plane restored from an older backup has forgotten.
 * Adopting it would hand its users and data to the new owner.
 */
export class TenantDatabaseTakenError extends ConflictError {
  constructor(tenantId: string) {
    super(
      'TENANT_DATABASE_EXISTS',
      `The tenant id ${tenantId} is taken by a database on the server that belongs to no organization here; ` +
        'choose another name (the operator can drop or rename that database)',
    );
  }
}

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
    private readonly template: TenantTemplate,
    private readonly spares: TenantSparePool,
  ) {}

  /**
   * Provisions the database of `tenant`. An existing one is taken as a half-done earlier attempt's, except on a
   * first attempt (`firstAttempt`), which has made none: there, one that has run tenant migrations is refused
   * (TenantDatabaseTakenError); an empty one is used.
   */
  async provision(
    { tenantId, databaseName }: Pick<TenantRecord, 'tenantId' | 'databaseName'>,
    firstAttempt: boolean,
  ): Promise<void> {
    await this.template.ensure();
    await this.server.withAdminClient(async (client) => {
      await advisoryLock(client, lockKey(`database:${databaseName}`));
      if (await this.server.databaseExists(client, databaseName)) {
        if (firstAttempt && (await this.template.hasRunMigrations(databaseName))) {
          throw new TenantDatabaseTakenError(tenantId);
        }
      } else {
        if (await this.spares.claim(databaseName)) return;
        await this.template.clone(client, databaseName);
      }
      await this.template.migrate(databaseName, client);
    });
  }
}
