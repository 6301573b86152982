import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUrl, Matches, MaxLength, MinLength } from 'class-validator';
import { FARM_TYPES, FarmType } from '../organization.entity';

const trim = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? value.trim() : value);

export class CreateOrganizationDto {
  @ApiProperty({
    example: 'Green Valley Co-op',
    minLength: 1,
    maxLength: 200,
    description: 'Unique name; the tenant id is derived from it ("Green Valley Co-op" -> green-valley-co-op)',
  })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(/[A-Za-z0-9]/, { message: 'name must contain at least one letter or digit' })
  name!: string;

  @ApiProperty({ enum: FARM_TYPES, example: 'vegetable' })
  @IsIn(FARM_TYPES, { message: `farmType must be one of: ${FARM_TYPES.join(', ')}` })
  farmType!: FarmType;

  @ApiPropertyOptional({
    type: String,
    example: 'https://cdn.example.com/logos/green-valley.png',
    maxLength: 2000,
    nullable: true,
    format: 'uri',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true },
    { message: 'logoUrl must be an http(s) URL' },
  )
  logoUrl?: string | null;
}
