import { Migration } from '@mikro-orm/migrations';

export class Migration20261128113251 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "login_failures" add column "checked" boolean not null default false;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "login_failures" drop column "checked";`);
  }
}
