import { Injectable } from '@nestjs/common';
import { advisoryLock, lockKey } from '../database/advisory-lock';
import { DatabaseServer } from '../database/database-server';
import { ConflictError } from '../common/domain-errors';
import type { Organization } from '../organizations/organization.entity';
import { TenantSparePool } from './tenant-spare-pool';
import { TenantTemplate } from './tenant-template';

/**
 * A sign-up found its database name taken by a database that has run tenant migrations and that no attempt of this
 * sign-up has made: another deployment's tenant on the same server, say, or one that a control plane restored from
 * an older backup has forgotten. Adopting it would hand its users and data to the new owner.
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

/** MikroORM's record of the migrations a database has run. */
const MIGRATIONS_TABLE = 'mikro_orm_migrations';

/**
 * Whether a sign-up owns its database name (its row's `databaseOwned`), read when asked, and recording that it
 * does. Both under the name's lock: another attempt of the same sign-up may have recorded it meanwhile.
 */
export interface NameOwnership {
  owned(): Promise<boolean>;
  own(): Promise<void>;
}

/**
 * Creates tenant databases. Each step is idempotent, so a retry or a restart finishes a half-done job: a missing
 * database is a claimed spare (renamed, already at the latest migration) or else a clone of the template
 * (`CREATE DATABASE ... TEMPLATE ... STRATEGY = WAL_LOG`), then brought to the latest tenant migration (a no-op
 * when the template was current). A sign-up owns the database it is about to make (recorded before it makes it, so
 * a later attempt finishes whatever this one leaves); an existing database it has not recorded as its own is
 * refused when it has run tenant migrations (TenantDatabaseTakenError), else owned and finished. A lock per
 * database name keeps concurrent attempts from both creating it; it all runs in one maintenance session (the
 * server's client, and one to the tenant database for the checks of its migrations).
 */
@Injectable()
export class TenantProvisioner {
  constructor(
    private readonly server: DatabaseServer,
    private readonly template: TenantTemplate,
    private readonly spares: TenantSparePool,
  ) {}

  async provision(
    { tenantId, databaseName }: Pick<Organization, 'tenantId' | 'databaseName'>,
    ownership: NameOwnership,
  ): Promise<void> {
    await this.template.ensure();
    await this.server.withAdminClient(async (client) => {
      await advisoryLock(client, lockKey(`database:${databaseName}`));
      if (!(await this.server.databaseExists(client, databaseName))) {
        await ownership.own();
        if (await this.spares.claim(databaseName)) return;
        await this.template.clone(client, databaseName);
      } else if (!(await ownership.owned())) {
        if (await this.server.hasRows(databaseName, MIGRATIONS_TABLE)) {
          throw new TenantDatabaseTakenError(tenantId);
        }
        await ownership.own();
      }
      await this.template.migrate(databaseName, client);
    });
  }
}
