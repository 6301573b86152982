import { ApiProperty } from '@nestjs/swagger';
import { DateField, UuidField } from '../../common/fields';
import { HARVEST_UNIT_ENUM, HarvestUnit } from '../../harvests/harvest.entity';

export class HarvestSummaryQueryDto {
  @DateField({ required: false, description: 'Only harvests on or after this date' })
  from?: string;

  @DateField({ required: false, description: 'Only harvests on or before this date' })
  to?: string;

  @UuidField({ required: false, description: 'Only this crop' })
  cropId?: string;
}

export class HarvestSummaryRowDto {
  @ApiProperty({ format: 'uuid' })
  cropId!: string;

  @ApiProperty({ example: 'Heirloom Tomatoes' })
  cropName!: string;

  @ApiProperty({ ...HARVEST_UNIT_ENUM, example: 'kg' })
  unit!: HarvestUnit;

  @ApiProperty({
    type: Number,
    example: 152.75,
    description:
      'Sum of the quantities, summed exactly by the database; as a JSON number it keeps every one of its 3 decimals ' +
      'up to 8,796,093,022,207.999 (2^43), beyond which it is the nearest double',
  })
  totalQuantity!: number;

  @ApiProperty({ type: 'integer', example: 9 })
  harvestCount!: number;

  @ApiProperty({ type: String, format: 'date', example: '2025-07-02' })
  firstHarvestedAt!: string;

  @ApiProperty({ type: String, format: 'date', example: '2025-09-14' })
  lastHarvestedAt!: string;
}
