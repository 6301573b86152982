import { Injectable, Logger } from '@nestjs/common';
import type { Client } from 'pg';
import { DatabaseServer } from '../database/database-server';
import { quoteIdent } from '../database/sql-identifiers';
import { TenantDatabaseNames } from './tenant-database-names';
import { migrateToLatest } from '../database/migrate-to-latest';
import { TenantOrmFactory } from './tenant-orm.factory';

/** Advisory lock keys, taken on the maintenance database so every process of this prefix agrees on them. */
const lockKey = (what: string) => `farm-management:${what}`;

/**
 * Creates tenant databases. Each step is idempotent, so a retry or a restart finishes a half-done job: a missing
 * database is cloned from the template (`CREATE DATABASE ... TEMPLATE ... STRATEGY = WAL_LOG`), then brought to
 * the latest tenant migration (a no-op when the template was current). The template is kept migrated; cloning
 * takes a shared lock and template upkeep an exclusive one, since PostgreSQL refuses to clone a database with
 * open connections.
 */
@Injectable()
export class TenantProvisioner {
  private readonly logger = new Logger(TenantProvisioner.name);
  private templateReady?: Promise<void>;

  constructor(
    private readonly server: DatabaseServer,
    private readonly names: TenantDatabaseNames,
    private readonly factory: TenantOrmFactory,
  ) {}

  async provision(tenantId: string): Promise<void> {
    const databaseName = this.names.forTenant(tenantId);
    await this.ensureTemplate();
    await this.server.withAdminClient(async (client) => {
      await lock(client, lockKey(`database:${databaseName}`));
      if (await this.server.databaseExists(client, databaseName)) return;
      await lock(client, lockKey(`template:${this.names.template}`), 'shared');
      await client.query(
        `CREATE DATABASE ${quoteIdent(databaseName)} TEMPLATE ${quoteIdent(this.names.template)} STRATEGY = WAL_LOG`,
      );
    });
    await this.migrate(databaseName);
  }

  /** Creates the template database if needed and migrates it; once per process (retried after a failure). */
  ensureTemplate(): Promise<void> {
    this.templateReady ??= this.prepareTemplate().catch((error: unknown) => {
      this.templateReady = undefined;
      throw error;
    });
    return this.templateReady;
  }

  private async prepareTemplate(): Promise<void> {
    const template = this.names.template;
    await this.server.withAdminClient(async (client) => {
      await lock(client, lockKey(`template:${template}`));
      if (!(await this.server.databaseExists(client, template))) {
        await client.query(`CREATE DATABASE ${quoteIdent(template)}`);
        this.logger.log(`Created the tenant template database ${template}`);
      }
      await this.migrate(template);
    });
  }

  private async migrate(databaseName: string): Promise<void> {
    const orm = this.factory.create(databaseName, `tenant:provisioning:${databaseName}`);
    try {
      await migrateToLatest(orm, () => this.server.adminClient());
    } finally {
      await orm.close(true);
    }
  }
}

/** Session-level advisory lock, released when the client disconnects. */
async function lock(client: Client, key: string, mode: 'exclusive' | 'shared' = 'exclusive'): Promise<void> {
  const fn = mode === 'shared' ? 'pg_advisory_lock_shared' : 'pg_advisory_lock';
  await client.query(`SELECT ${fn}(hashtext($1))`, [key]);
}
