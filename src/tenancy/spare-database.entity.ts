import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { Timestamped } from '../common/timestamps';

/**
 * A spare tenant database in the control plane: cloned from the template ahead of time and claimed by a sign-up,
 * which renames it. `migratedTo` is the last tenant migration it has; null while it is being prepared.
 */
@Entity({ tableName: 'spare_databases' })
export class SpareDatabase extends Timestamped {
  @PrimaryKey({ type: 'string', length: 63 })
  name!: string;

  @Property({ type: 'string', length: 255, nullable: true })
  migratedTo: string | null = null;
}
