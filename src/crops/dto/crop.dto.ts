import { ApiProperty } from '@nestjs/swagger';
import { DateField, TextField, UuidField } from '../../common/fields';
import { PaginationQueryDto } from '../../common/pagination.dto';
import { Crop } from '../crop.entity';

export class CreateCropDto {
  @TextField(200, { example: 'Heirloom Tomatoes' })
  name!: string;

  @DateField({ example: '2025-04-15' })
  plantingDate!: string;

  @TextField(200, { nullable: true, required: false, example: 'Brandywine' })
  variety?: string | null;

  @TextField(200, { nullable: true, required: false, example: 'North field' })
  field?: string | null;

  @TextField(2000, { nullable: true, required: false, example: 'Staked, drip irrigation' })
  notes?: string | null;

  @UuidField({
    required: false,
    description:
      "Optional; must be the tenant's own organization id (the organization is implied by the tenant)",
  })
  organizationId?: string;
}

export class UpdateCropDto {
  @TextField(200, { required: false, example: 'Cherry Tomatoes' })
  name?: string;

  @DateField({ required: false, example: '2025-04-20' })
  plantingDate?: string;

  @TextField(200, { nullable: true, required: false, description: 'null clears it' })
  variety?: string | null;

  @TextField(200, { nullable: true, required: false, description: 'null clears it' })
  field?: string | null;

  @TextField(2000, { nullable: true, required: false, description: 'null clears it' })
  notes?: string | null;
}

export class ListCropsQueryDto extends PaginationQueryDto {
  @TextField(200, {
    required: false,
    description: 'Only crops whose name contains this text (case-insensitive)',
  })
  name?: string;

  @DateField({ required: false, description: 'Only crops planted on or after this date' })
  plantedFrom?: string;

  @DateField({ required: false, description: 'Only crops planted on or before this date' })
  plantedTo?: string;
}

export class CropDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Heirloom Tomatoes' })
  name!: string;

  @ApiProperty({ type: String, format: 'date', example: '2025-04-15' })
  plantingDate!: string;

  @ApiProperty({ type: String, nullable: true, example: 'Brandywine' })
  variety!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'North field' })
  field!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null })
  notes!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;

  static from(crop: Crop): CropDto {
    return {
      id: crop.id,
      name: crop.name,
      plantingDate: crop.plantingDate,
      variety: crop.variety,
      field: crop.field,
      notes: crop.notes,
      createdAt: crop.createdAt.toISOString(),
      updatedAt: crop.updatedAt.toISOString(),
    };
  }
}
