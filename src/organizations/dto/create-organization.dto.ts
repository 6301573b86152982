import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, IsUrl, ValidateIf, ValidateNested } from 'class-validator';
import { EmailField, MaxChars, PasswordField, TextField } from '../../common/fields';
import { TENANT_SLUG_MAX_LENGTH } from '../../tenancy/tenant-slug';
import { FARM_TYPE_ENUM, FARM_TYPES, FarmType } from '../organization.entity';

export class OwnerDto {
  @TextField(200, { example: 'Ada' })
  firstName!: string;

  @TextField(200, { example: 'Lovelace' })
  lastName!: string;

  @EmailField({ example: 'ada@greenvalley.example' })
  email!: string;

  @PasswordField({ description: 'At least 10 characters; stored as an argon2id hash, never returned' })
  password!: string;
}

export class CreateOrganizationDto {
  @TextField(200, {
    example: 'Green Valley Co-op',
    description:
      'Unique name; the tenant id is derived from it ("Green Valley Co-op" -> green-valley-co-op, "Café" -> cafe: ' +
      'accents dropped, other characters outside a-z 0-9 become dashes) and may have at most ' +
      `${TENANT_SLUG_MAX_LENGTH} characters (400 ORGANIZATION_NAME_INVALID beyond)`,
    mustMatch: { pattern: /[A-Za-z0-9]/, message: 'name must contain at least one letter or digit' },
  })
  name!: string;

  @ApiProperty({ ...FARM_TYPE_ENUM, example: 'vegetable' })
  @IsIn(FARM_TYPES, { message: `farmType must be one of: ${FARM_TYPES.join(', ')}` })
  farmType!: FarmType;

  @ApiPropertyOptional({
    type: String,
    example: 'https://cdn.example.com/logos/green-valley.png',
    maxLength: 2000,
    nullable: true,
    format: 'uri',
    description:
      'An http or https URL whose host is a domain name with a top-level domain or an IP address (not localhost)',
  })
  @IsOptional()
  @IsString()
  @MaxChars(2000)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true },
    { message: 'logoUrl must be an http(s) URL' },
  )
  logoUrl?: string | null;

  @ApiPropertyOptional({
    type: OwnerDto,
    description:
      "The organization's first user, created with role admin in the same sign-up. Required when the caller has " +
      'no platform token (SIGNUP_MODE=open).',
  })
  @ValidateIf((_object, value) => value !== undefined)
  @IsObject({ message: 'owner must be an object' })
  @ValidateNested()
  @Type(() => OwnerDto)
  owner?: OwnerDto;
}
