import { Migration } from '@mikro-orm/migrations';

export class Migration20261128070750 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index "harvests_crop_id_created_at_id_index" on "harvests" ("crop_id", "created_at", "id");`,
    );
    this.addSql(`drop index "harvests_crop_id_index";`);
  }

  override async down(): Promise<void> {
    this.addSql(`create index "harvests_crop_id_index" on "harvests" ("crop_id");`);
    this.addSql(`drop index "harvests_crop_id_created_at_id_index";`);
  }
}
