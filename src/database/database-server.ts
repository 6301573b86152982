import { Options, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { AppConfig } from '../config/app-config';
import { startEmbeddedPostgres } from './embedded-postgres';
import { quoteIdent } from './sql-identifiers';

/** Where PostgreSQL is, whether configured (`DB_HOST`) or embedded, and how to reach its maintenance database. */
export class DatabaseServer {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly user: string,
    readonly password: string,
    private readonly stopEmbedded?: () => Promise<void>,
  ) {}

  /** Connection options of a MikroORM instance on this server. */
  ormConnection(): Pick<Options, 'driver' | 'host' | 'port' | 'user' | 'password'> {
    return {
      driver: PostgreSqlDriver,
      host: this.host,
      port: this.port,
      user: this.user,
      password: this.password,
    };
  }

  /** A short-lived client on the `postgres` maintenance database, for CREATE/DROP/ALTER DATABASE. */
  async adminClient(): Promise<Client> {
    const client = new Client({
      host: this.host,
      port: this.port,
      user: this.user,
      password: this.password,
      database: 'postgres',
      application_name: 'farm-management:admin',
    });
    await client.connect();
    return client;
  }

  async withAdminClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.adminClient();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  async databaseExists(client: Client, name: string): Promise<boolean> {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  }

  /** Creates the database unless it exists; safe when several processes race to create it. */
  async ensureDatabase(name: string): Promise<void> {
    await this.withAdminClient(async (client) => {
      if (await this.databaseExists(client, name)) return;
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      } catch (error) {
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    });
  }

  /** Stops the embedded server if this process started it (command-line tools call it before exiting). */
  async stop(): Promise<void> {
    await this.stopEmbedded?.();
  }

  /**
   * Resolves the server from the configuration. When `DB_HOST` is unset, an embedded server already running on
   * EMBEDDED_PG_DIR is joined, else one is started unless `startEmbedded` is false.
   */
  static async fromConfig(config: AppConfig, { startEmbedded = true } = {}): Promise<DatabaseServer> {
    if (config.DB_HOST) {
      return new DatabaseServer(config.DB_HOST, config.DB_PORT, config.DB_USER, config.DB_PASSWORD);
    }
    const embedded = await startEmbeddedPostgres(
      config.EMBEDDED_PG_DIR,
      config.EMBEDDED_PG_PORT,
      startEmbedded,
    );
    return new DatabaseServer(embedded.host, embedded.port, embedded.user, embedded.password, () =>
      embedded.stop(),
    );
  }
}
