import { MikroORM } from '@mikro-orm/postgresql';
import { describeError } from '../common/error-text';
import { AppConfig } from '../config/app-config';
import { advisoryLock } from '../database/advisory-lock';
import { DatabaseServer } from '../database/database-server';
import { migrateToLatest, OnAdminClient, pendingMigrations } from '../database/migrate-to-latest';
import { controlOrmOptions } from '../organizations/control-orm.config';
import { Organization } from '../organizations/organization.entity';
import { TenantDatabaseNames } from './tenant-database-names';
import { TenantOrmFactory } from './tenant-orm.factory';
import { templateLockKey } from './tenant-template';

export interface FleetTarget {
  /** The tenant id, or `(template)` for the template database new tenants are cloned from. */
  tenantId: string;
  databaseName: string;
}

export interface FleetResult extends FleetTarget {
  ok: boolean;
  /** Migrations applied (migrate) or pending (status). */
  migrations: string[];
  error?: string;
}

export const TEMPLATE_TARGET_ID = '(template)';

/** What the fleet does to one database; maintenance work goes through `onAdminClient`. */
type FleetTask = (orm: MikroORM, onAdminClient: OnAdminClient) => Promise<string[]>;

/**
 * Runs one migration task over every tenant database the registry lists as active (never a scan of the server's
 * databases), plus the template, with bounded concurrency. A failing tenant is reported and the rest go on.
 */
export class TenantFleet {
  constructor(
    private readonly server: DatabaseServer,
    private readonly config: AppConfig,
    private readonly factory: TenantOrmFactory,
  ) {}

  async targets(): Promise<FleetTarget[]> {
    const control = await MikroORM.init({
      ...controlOrmOptions(this.server, this.config),
      pool: { min: 0, max: 1 },
    });
    try {
      const organizations = await control.em
        .fork()
        .find(
          Organization,
          { status: 'active' },
          { orderBy: { tenantId: 'asc' }, fields: ['tenantId', 'databaseName'] },
        );
      const template = TenantDatabaseNames.fromConfig(this.config).template;
      const templateExists = await this.server.withAdminClient((client) =>
        this.server.databaseExists(client, template),
      );
      return [
        ...(templateExists ? [{ tenantId: TEMPLATE_TARGET_ID, databaseName: template }] : []),
        ...organizations.map((org) => ({ tenantId: org.tenantId, databaseName: org.databaseName })),
      ];
    } finally {
      await control.close(true);
    }
  }

  migrate(onResult: (result: FleetResult) => void): Promise<FleetResult[]> {
    return this.forEach(onResult, migrateToLatest);
  }

  status(onResult: (result: FleetResult) => void): Promise<FleetResult[]> {
    return this.forEach(onResult, (orm) => pendingMigrations(orm));
  }

  private async forEach(onResult: (result: FleetResult) => void, task: FleetTask): Promise<FleetResult[]> {
    const queue = await this.targets();
    const results: FleetResult[] = [];
    const worker = async (): Promise<void> => {
      for (let target = queue.shift(); target; target = queue.shift()) {
        const result = await this.run(target, task);
        results.push(result);
        onResult(result);
      }
    };
    await Promise.all(Array.from({ length: this.config.TENANT_MIGRATE_CONCURRENCY }, worker));
    return results;
  }

  private async run(target: FleetTarget, task: FleetTask): Promise<FleetResult> {
    const attempt = async (onAdminClient: OnAdminClient): Promise<string[]> => {
      const orm = this.factory.create(target.databaseName, `tenant:fleet:${target.databaseName}`);
      try {
        return await task(orm, onAdminClient);
      } finally {
        await orm.close(true);
      }
    };
    try {
      // A sign-up cannot clone the template while anything is connected to it: hold its lock until disconnected.
      const migrations =
        target.tenantId === TEMPLATE_TARGET_ID
          ? await this.server.withAdminClient(async (client) => {
              await advisoryLock(client, templateLockKey(target.databaseName));
              return attempt((work) => work(client));
            })
          : await attempt((work) => this.server.withAdminClient(work));
      return { ...target, ok: true, migrations };
    } catch (error) {
      return {
        ...target,
        ok: false,
        migrations: [],
        // The server's error, not knex's message, which quotes the failed statement with its values.
        error: describeError(error),
      };
    }
  }
}
