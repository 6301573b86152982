import { Migration } from '@mikro-orm/migrations';

export class Migration20261126045309 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "harvests" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "crop_id" uuid not null, "quantity" numeric(12,3) not null, "unit" text check ("unit" in ('kg', 'bushel', 'crate')) not null, "harvested_at" date not null, "notes" varchar(2000) null, constraint "harvests_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "harvests_crop_id_index" on "harvests" ("crop_id");`);
    this.addSql(`create index "harvests_harvested_at_index" on "harvests" ("harvested_at");`);
    this.addSql(`create index "harvests_created_at_id_index" on "harvests" ("created_at", "id");`);

    this.addSql(
      `create table "users" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "first_name" varchar(200) not null, "last_name" varchar(200) not null, "email" varchar(254) not null, constraint "users_pkey" primary key ("id"));`,
    );
    this.addSql(`create unique index "users_email_lower_unique" on "users" (lower("email"));`);
    this.addSql(`create index "users_created_at_id_index" on "users" ("created_at", "id");`);

    this.addSql(
      `alter table "harvests" add constraint "harvests_crop_id_foreign" foreign key ("crop_id") references "crops" ("id") on update cascade on delete restrict;`,
    );

    this.addSql(
      `alter table "crops" add column "variety" varchar(200) null, add column "field" varchar(200) null, add column "notes" varchar(2000) null;`,
    );
    this.addSql(`create index "crops_planting_date_index" on "crops" ("planting_date");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "harvests" cascade;`);

    this.addSql(`drop table if exists "users" cascade;`);

    this.addSql(`drop index "crops_planting_date_index";`);
    this.addSql(`alter table "crops" drop column "variety", drop column "field", drop column "notes";`);
  }
}
