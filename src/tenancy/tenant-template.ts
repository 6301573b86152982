import { Injectable, Logger } from '@nestjs/common';
import type { Client } from 'pg';
import { advisoryLock, advisoryUnlock, lockKey } from '../database/advisory-lock';
import { DatabaseServer } from '../database/database-server';
import { migrateToLatest } from '../database/migrate-to-latest';
import { quoteIdent } from '../database/sql-identifiers';
import { TenantDatabaseNames } from './tenant-database-names';
import { TenantOrmFactory } from './tenant-orm.factory';

/** The template's lock: shared while cloning, exclusive for anything that connects to it (upkeep, fleet commands). */
export function templateLockKey(template: string): string {
  return lockKey(`template:${template}`);
}

/**
 * The template database new tenant databases (and spares) are cloned from, kept at the latest tenant migration.
 * Cloning takes a shared lock and template upkeep an exclusive one, since PostgreSQL refuses to clone a database
 * with open connections.
 */
@Injectable()
export class TenantTemplate {
  private readonly logger = new Logger(TenantTemplate.name);
  private ready?: Promise<void>;

  constructor(
    private readonly server: DatabaseServer,
    private readonly names: TenantDatabaseNames,
    private readonly factory: TenantOrmFactory,
  ) {}

  /** Creates the template database if needed and migrates it; once per process (retried after a failure). */
  ensure(): Promise<void> {
    this.ready ??= this.prepare().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /**
   * `CREATE DATABASE <target> TEMPLATE <template> STRATEGY = WAL_LOG` on a maintenance client, under the template's
   * shared lock, released once the clone is made: the session goes on (a sign-up's migration, a fill's next spares),
   * and an exclusive request queued meanwhile (upkeep, a fleet command) would hold every later clone behind it.
   */
  async clone(client: Client, target: string): Promise<void> {
    const key = templateLockKey(this.names.template);
    await advisoryLock(client, key, 'shared');
    await client.query(
      `CREATE DATABASE ${quoteIdent(target)} TEMPLATE ${quoteIdent(this.names.template)} STRATEGY = WAL_LOG`,
    );
    await advisoryUnlock(client, key, 'shared');
  }

  /**
   * Brings a tenant database to the latest tenant migration, within the caller's maintenance session (`client` is
   * its connection; the database's own is the session's second); returns what it applied.
   */
  async migrate(databaseName: string, client: Client): Promise<string[]> {
    const orm = this.factory.create(databaseName, `tenant:provisioning:${databaseName}`);
    try {
      return await migrateToLatest(orm, (work) => work(client));
    } finally {
      await orm.close(true);
    }
  }

  private async prepare(): Promise<void> {
    const template = this.names.template;
    await this.server.withAdminClient(async (client) => {
      await advisoryLock(client, templateLockKey(template));
      if (!(await this.server.databaseExists(client, template))) {
        await client.query(`CREATE DATABASE ${quoteIdent(template)}`);
        this.logger.log(`Created the tenant template database ${template}`);
      }
      await this.migrate(template, client);
    });
  }
}
