import { Migration } from '@mikro-orm/migrations';

export class Migration20261128070750 extends Migration {
  // The drop first: it takes the table's strongest lock at once. Created first, the index's SHARE lock would have to
  // be raised for the drop while a harvest's PATCH (a row locked FOR UPDATE, then its UPDATE) waits on it: deadlock.
  override async up(): Promise<void> {
    this.addSql(`drop index "harvests_crop_id_index";`);
    this.addSql(
      `create index "harvests_crop_id_created_at_id_index" on "harvests" ("crop_id", "created_at", "id");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "harvests_crop_id_created_at_id_index";`);
    this.addSql(`create index "harvests_crop_id_index" on "harvests" ("crop_id");`);
  }
}
