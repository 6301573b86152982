import { Entity, Index, Opt, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Timestamped } from '../common/timestamps';

/** A crop planted on the farm (tenant database). */
@Entity({ tableName: 'crops' })
@Index({ properties: ['createdAt', 'id'] })
@Index({ properties: ['plantingDate'] })
export class Crop extends Timestamped {
  @PrimaryKey({ type: 'uuid' })
  id: string & Opt = randomUUID();

  @Property({ type: 'string', length: 200 })
  name!: string;

  /** A calendar date, `YYYY-MM-DD`. */
  @Property({ type: 'date' })
  plantingDate!: string;

  @Property({ type: 'string', length: 200, nullable: true })
  variety: string | null = null;

  @Property({ type: 'string', length: 200, nullable: true })
  field: string | null = null;

  @Property({ type: 'string', length: 2000, nullable: true })
  notes: string | null = null;
}
