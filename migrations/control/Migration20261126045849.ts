import { Migration } from '@mikro-orm/migrations';

export class Migration20261126045849 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "spare_databases" ("name" varchar(63) not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "migrated_to" varchar(255) null, constraint "spare_databases_pkey" primary key ("name"));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "spare_databases" cascade;`);
  }
}
