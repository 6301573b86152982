import { Migration } from '@mikro-orm/migrations';

/**
 * `database_owned` defaults to true again, for the rows a process of a release from before the column writes during
 * a rolling upgrade (its inserts do not name the column): like the rows from before the column, they own their
 * database names, as that release's sign-ups adopted their databases. This release names the column in every insert.
 */
export class Migration20261128161000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "organizations" alter column "database_owned" set default true;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "organizations" alter column "database_owned" set default false;`);
  }
}
