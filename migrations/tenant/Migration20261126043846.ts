import { Migration } from '@mikro-orm/migrations';

export class Migration20261126043846 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "crops" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "name" varchar(200) not null, "planting_date" date not null, constraint "crops_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "crops_created_at_id_index" on "crops" ("created_at", "id");`);
  }
}
