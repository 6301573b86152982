import { MikroORM } from '@mikro-orm/postgresql';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DatabaseServer } from '../database/database-server';
import { migrateToLatest } from '../database/migrate-to-latest';

/** Brings the control-plane database to the latest control migration at start. */
@Injectable()
export class ControlPlaneMigrator implements OnModuleInit {
  private readonly logger = new Logger(ControlPlaneMigrator.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly server: DatabaseServer,
  ) {}

  async onModuleInit(): Promise<void> {
    const applied = await migrateToLatest(this.orm, (work) => this.server.withAdminClient(work));
    if (applied.length > 0) this.logger.log(`Control plane migrated: ${applied.join(', ')}`);
  }
}
