import { Migration } from '@mikro-orm/migrations';

/**
 * `database_owned`: whether a sign-up has found its database name free (or taken a database that had run no tenant
 * migration), so that a database of that name is its own. Rows from before are taken as owning theirs (their
 * sign-ups adopted any database, as a retry now adopts only its own); new rows start without.
 */
export class Migration20261128043000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "organizations" add column "database_owned" boolean not null default true;`);
    this.addSql(`alter table "organizations" alter column "database_owned" set default false;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "organizations" drop column "database_owned";`);
  }
}
