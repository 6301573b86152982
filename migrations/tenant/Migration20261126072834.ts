import { Migration } from '@mikro-orm/migrations';

export class Migration20261126072834 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "login_failures" ("id" bigserial primary key, "email_key" text not null, "failed_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "login_failures_failed_at_index" on "login_failures" ("failed_at");`);
    this.addSql(
      `create index "login_failures_email_key_failed_at_index" on "login_failures" ("email_key", "failed_at");`,
    );

    this.addSql(
      `alter table "users" add column "role" text check ("role" in ('viewer', 'member', 'admin')) not null default 'viewer', add column "password_hash" text null, add column "credentials_version" int not null default 0;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "login_failures" cascade;`);

    this.addSql(
      `alter table "users" drop column "role", drop column "password_hash", drop column "credentials_version";`,
    );
  }
}
