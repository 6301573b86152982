import { Global, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, CONNECTION_CEILING_SUM } from '../config/app-config';
import { DatabaseServer } from './database-server';

/**
 * Owns the PostgreSQL server this process talks to (external or embedded), checks that the server allows the
 * connections this process may open and can serve sign-ups, and creates the control-plane database.
 * An embedded server this process started is stopped at the very end of the app's shutdown (a global module's
 * hooks run after the other modules', and this one was registered before the ORM module that needs it), once the
 * requests under way have been answered and every ORM is closed; not by the package's own hook at the signal.
 */
@Global()
@Module({
  providers: [
    {
      provide: DatabaseServer,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        const server = await DatabaseServer.fromConfig(config, { stopOnSignals: false });
        await server.withAdminClient(async (client) => {
          await server.checkRoomFor(
            client,
            config.connectionCeiling,
            CONNECTION_CEILING_SUM,
            'TENANT_MAX_OPEN',
          );
          await server.checkSignUpPrerequisites(client);
          await server.ensureDatabase(config.DB_NAME, client);
        });
        return server;
      },
    },
  ],
  exports: [DatabaseServer],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(private readonly server: DatabaseServer) {}

  async onApplicationShutdown(): Promise<void> {
    await this.server.stop();
  }
}
