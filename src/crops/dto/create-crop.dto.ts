import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { IsCalendarDate } from '../../common/is-calendar-date.decorator';

export class CreateCropDto {
  @ApiProperty({ example: 'Heirloom Tomatoes', minLength: 1, maxLength: 200 })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiProperty({ type: String, format: 'date', example: '2025-04-15' })
  @IsCalendarDate()
  plantingDate!: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      "Optional; must be the tenant's own organization id (the organization is implied by the tenant)",
  })
  @IsOptional()
  @IsUUID('all')
  organizationId?: string;
}
