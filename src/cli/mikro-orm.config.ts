import type { Options } from '@mikro-orm/postgresql';
import { loadConfig, loadDotEnv } from '../config/app-config';
import { DatabaseServer } from '../database/database-server';
import { controlOrmOptions } from '../organizations/control-orm.config';
import { TenantDatabaseNames } from '../tenancy/tenant-database-names';
import { tenantOrmOptions } from '../tenancy/tenant-orm.factory';

/**
 * Configuration for the MikroORM CLI (`npm run migration:create -- --contextName control|tenant`).
 * `tenant` diffs the entities against migrations/tenant/.snapshot-tenant.json, using the template database.
 * Without DB_HOST it joins the embedded server of a running app rather than start one it could not stop.
 */
/** The CLI diffs against, and updates, the committed snapshot that runtime ORMs leave alone. */
function withSnapshot(options: Options): Options {
  return { ...options, migrations: { ...options.migrations, snapshot: true } };
}

export default async function cliConfig(contextName: string): Promise<Options> {
  loadDotEnv();
  const config = loadConfig();
  const server = await DatabaseServer.fromConfig(config, { startEmbedded: false });
  try {
    if (contextName === 'control') {
      await server.ensureDatabase(config.DB_NAME);
      return withSnapshot({ ...controlOrmOptions(server, config), contextName });
    }
    if (contextName === 'tenant') {
      const template = TenantDatabaseNames.fromConfig(config).template;
      await server.ensureDatabase(template);
      return withSnapshot(tenantOrmOptions(server, config, template, contextName));
    }
    throw new Error(`Unknown MikroORM context ${JSON.stringify(contextName)}: use control or tenant`);
  } finally {
    // Closes the maintenance connection it kept (a joined embedded server is left running).
    await server.stop();
  }
}
