import { Injectable } from '@nestjs/common';
import { advisoryLock, lockKey } from '../database/advisory-lock';
import { DatabaseServer } from '../database/database-server';
import { ConflictError } from '../common/domain-errors';
import type { Organization } from '../organizations/organization.entity';
import { TenantSparePool } from './tenant-spare-pool';
import { TenantTemplate } from './tenant-template';

/**
 * A sign-up found its database name taken by a database that is not marked as its own and holds data: another
 * deployment's tenant on the same server, say, or one a control plane restored from an older backup has forgotten.
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

/** MikroORM's record of the migrations run: a clone of the template has its rows, and no other. */
const MIGRATIONS_TABLE = 'mikro_orm_migrations';

/** The comment on a tenant database that says which organization's sign-up made it. */
function markOf(organizationId: string): string {
  return `farm-management organization ${organizationId}`;
}

/**
 * Creates tenant databases. Each step is idempotent, so a retry or a restart finishes a half-done job: a missing
 * database is a claimed spare (renamed, already at the latest migration) or else a clone of the template
 * (`CREATE DATABASE ... TEMPLATE ... STRATEGY = WAL_LOG`), marked as the organization's (a comment on the
 * database), then brought to the latest tenant migration (a no-op when the template was current). An existing
 * database is an earlier attempt's when it bears the mark, or holds no data (an attempt that stopped before
 * marking it); else it is refused (TenantDatabaseTakenError). A lock per database name keeps concurrent attempts
 * from both creating it; it all runs in one maintenance session (the server's client, and the new database's).
 */
@Injectable()
export class TenantProvisioner {
  constructor(
    private readonly server: DatabaseServer,
    private readonly template: TenantTemplate,
    private readonly spares: TenantSparePool,
  ) {}

  async provision({ id, tenantId, databaseName }: Organization): Promise<void> {
    await this.template.ensure();
    await this.server.withAdminClient(async (client) => {
      await advisoryLock(client, lockKey(`database:${databaseName}`));
      const mark = markOf(id);
      if (await this.server.databaseExists(client, databaseName)) {
        if ((await this.server.commentOn(client, databaseName)) !== mark) {
          if (await this.server.holdsData(databaseName, [MIGRATIONS_TABLE])) {
            throw new TenantDatabaseTakenError(tenantId);
          }
          await this.server.comment(client, databaseName, mark);
        }
      } else {
        const claimed = await this.spares.claim(databaseName);
        if (!claimed) await this.template.clone(client, databaseName);
        await this.server.comment(client, databaseName, mark);
        if (claimed) return;
      }
      await this.template.migrate(databaseName, client);
    });
  }
}
