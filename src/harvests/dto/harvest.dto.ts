import { ApiProperty } from '@nestjs/swagger';
import { DateField, EnumField, PositiveDecimalField, TextField, UuidField } from '../../common/fields';
import { PaginationQueryDto } from '../../common/pagination.dto';
import { Harvest, HARVEST_UNIT_ENUM, HarvestUnit } from '../harvest.entity';

export const MAX_QUANTITY = 999_999_999.999;

export class CreateHarvestDto {
  @UuidField({ description: 'A crop of the same organization' })
  cropId!: string;

  @PositiveDecimalField(MAX_QUANTITY, 3, { example: 12.5 })
  quantity!: number;

  @EnumField(HARVEST_UNIT_ENUM, { example: 'kg' })
  unit!: HarvestUnit;

  @DateField({ required: false, example: '2025-08-01', description: 'Defaults to today (UTC)' })
  harvestedAt?: string;

  @TextField(2000, { nullable: true, required: false, example: 'First picking' })
  notes?: string | null;
}

export class UpdateHarvestDto {
  @UuidField({ required: false })
  cropId?: string;

  @PositiveDecimalField(MAX_QUANTITY, 3, { required: false, example: 14 })
  quantity?: number;

  @EnumField(HARVEST_UNIT_ENUM, { required: false })
  unit?: HarvestUnit;

  @DateField({ required: false })
  harvestedAt?: string;

  @TextField(2000, { nullable: true, required: false, description: 'null clears it' })
  notes?: string | null;
}

export class ListHarvestsQueryDto extends PaginationQueryDto {
  @UuidField({ required: false, description: 'Only harvests of this crop' })
  cropId?: string;

  @DateField({ required: false, description: 'Only harvests on or after this date' })
  from?: string;

  @DateField({ required: false, description: 'Only harvests on or before this date' })
  to?: string;

  @EnumField(HARVEST_UNIT_ENUM, { required: false, description: 'Only harvests in this unit' })
  unit?: HarvestUnit;
}

export class HarvestDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  cropId!: string;

  @ApiProperty({ type: Number, example: 12.5 })
  quantity!: number;

  @ApiProperty({ ...HARVEST_UNIT_ENUM, example: 'kg' })
  unit!: HarvestUnit;

  @ApiProperty({ type: String, format: 'date', example: '2025-08-01' })
  harvestedAt!: string;

  @ApiProperty({ type: String, nullable: true, example: 'First picking' })
  notes!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;

  static from(harvest: Harvest): HarvestDto {
    return {
      id: harvest.id,
      cropId: harvest.crop.id,
      quantity: harvest.quantity,
      unit: harvest.unit,
      harvestedAt: harvest.harvestedAt,
      notes: harvest.notes,
      createdAt: harvest.createdAt.toISOString(),
      updatedAt: harvest.updatedAt.toISOString(),
    };
  }
}
