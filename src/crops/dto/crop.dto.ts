import { ApiProperty } from '@nestjs/swagger';
import { Crop } from '../crop.entity';

export class CropDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Heirloom Tomatoes' })
  name!: string;

  @ApiProperty({ type: String, format: 'date', example: '2025-04-15' })
  plantingDate!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;

  static from(crop: Crop): CropDto {
    return {
      id: crop.id,
      name: crop.name,
      plantingDate: crop.plantingDate,
      createdAt: crop.createdAt.toISOString(),
      updatedAt: crop.updatedAt.toISOString(),
    };
  }
}
