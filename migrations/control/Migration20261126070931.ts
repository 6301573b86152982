import { Migration } from '@mikro-orm/migrations';

export class Migration20261126070931 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "organizations" add column "pending_owner" jsonb null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "organizations" drop column "pending_owner";`);
  }
}
