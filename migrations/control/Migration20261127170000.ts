import { Migration } from '@mikro-orm/migrations';

/**
 * Every change to a row of `organizations` (the app's own, another process's, an operator's SQL) notifies
 * `tenant_changed` with the row's tenant id when its transaction commits, so that every app process drops its
 * cached registry answer at once (src/tenancy/tenant-change-listener.ts).
 */
export class Migration20261127170000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create function "notify_tenant_changed"() returns trigger language plpgsql as $$
begin
  perform pg_notify('tenant_changed', coalesce(new.tenant_id, old.tenant_id));
  if tg_op = 'UPDATE' and new.tenant_id is distinct from old.tenant_id then
    perform pg_notify('tenant_changed', old.tenant_id);
  end if;
  return null;
end $$;`,
    );
    this.addSql(
      `create trigger "organizations_notify_tenant_changed" after insert or update or delete on "organizations" for each row execute function "notify_tenant_changed"();`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists "organizations_notify_tenant_changed" on "organizations";`);
    this.addSql(`drop function if exists "notify_tenant_changed"();`);
  }
}
