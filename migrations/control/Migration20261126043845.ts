import { Migration } from '@mikro-orm/migrations';

export class Migration20261126043845 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "organizations" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "name" varchar(200) not null, "tenant_id" varchar(48) not null, "farm_type" text check ("farm_type" in ('vegetable', 'dairy', 'orchard', 'mixed')) not null, "logo_url" text null, "status" text check ("status" in ('provisioning', 'active', 'failed')) not null default 'provisioning', "database_name" varchar(63) not null, "last_error" text null, constraint "organizations_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "organizations" add constraint "organizations_name_unique" unique ("name");`);
    this.addSql(
      `alter table "organizations" add constraint "organizations_tenant_id_unique" unique ("tenant_id");`,
    );
    this.addSql(
      `alter table "organizations" add constraint "organizations_database_name_unique" unique ("database_name");`,
    );
    this.addSql(`create index "organizations_status_index" on "organizations" ("status");`);
  }
}
