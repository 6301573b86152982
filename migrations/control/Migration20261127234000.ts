import { Migration } from '@mikro-orm/migrations';

/**
 * Closes the two ways a change to `organizations` escaped the row trigger of Migration20261127170000: a TRUNCATE
 * (no row trigger fires) now notifies `tenant_changed` with `*`, which drops every cached registry answer; and both
 * triggers fire also under `session_replication_role = replica` (a logical replication subscriber, a bulk load),
 * which skips ordinary triggers.
 */
export class Migration20261127234000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create function "notify_tenants_truncated"() returns trigger language plpgsql as $$
begin
  perform pg_notify('tenant_changed', '*');
  return null;
end $$;`,
    );
    this.addSql(
      `create trigger "organizations_notify_tenants_truncated" after truncate on "organizations" for each statement execute function "notify_tenants_truncated"();`,
    );
    this.addSql(`alter table "organizations" enable always trigger "organizations_notify_tenant_changed";`);
    this.addSql(
      `alter table "organizations" enable always trigger "organizations_notify_tenants_truncated";`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "organizations" enable trigger "organizations_notify_tenant_changed";`);
    this.addSql(`drop trigger if exists "organizations_notify_tenants_truncated" on "organizations";`);
    this.addSql(`drop function if exists "notify_tenants_truncated"();`);
  }
}
