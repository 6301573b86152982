import { DecimalType, Entity, Enum, Index, ManyToOne, Opt, PrimaryKey, Property, Ref } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Timestamped } from '../common/timestamps';
import { Crop } from '../crops/crop.entity';

export const HARVEST_UNITS = ['kg', 'bushel', 'crate'] as const;
/** The units as one named enum of the OpenAPI document (one type in generated clients). */
export const HARVEST_UNIT_ENUM = { enum: HARVEST_UNITS, enumName: 'HarvestUnit' };
export type HarvestUnit = (typeof HARVEST_UNITS)[number];

/**
 * A harvest of a crop (tenant database). A crop with harvests cannot be deleted. A crop's harvests, newest first, are
 * read from (crop_id, created_at, id), which also serves the foreign key's checks: with crop_id alone, PostgreSQL
 * walked the whole created_at index for a crop with many harvests, dropping the other crops' rows.
 */
@Entity({ tableName: 'harvests' })
@Index({ properties: ['createdAt', 'id'] })
@Index({ properties: ['crop', 'createdAt', 'id'] })
@Index({ properties: ['harvestedAt'] })
export class Harvest extends Timestamped {
  @PrimaryKey({ type: 'uuid' })
  id: string & Opt = randomUUID();

  @ManyToOne(() => Crop, { ref: true, deleteRule: 'restrict' })
  crop!: Ref<Crop>;

  @Property({ type: new DecimalType('number'), precision: 12, scale: 3 })
  quantity!: number;

  @Enum({ items: () => HARVEST_UNITS })
  unit!: HarvestUnit;

  /** A calendar date, `YYYY-MM-DD`. */
  @Property({ type: 'date' })
  harvestedAt!: string;

  @Property({ type: 'string', length: 2000, nullable: true })
  notes: string | null = null;
}
