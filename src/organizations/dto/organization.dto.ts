import { ApiProperty } from '@nestjs/swagger';
import {
  FARM_TYPE_ENUM,
  FarmType,
  Organization,
  ORGANIZATION_STATUS_ENUM,
  OrganizationStatus,
} from '../organization.entity';
import { TENANT_SLUG_MAX_LENGTH, TENANT_SLUG_PATTERN } from '../../tenancy/tenant-slug';

export class OrganizationDto {
  @ApiProperty({ format: 'uuid', example: '4b6f0c7e-1c43-4a53-9a59-5d3c2a1f2b10' })
  id!: string;

  @ApiProperty({ example: 'Green Valley Co-op' })
  name!: string;

  @ApiProperty({
    example: 'green-valley-co-op',
    description: 'Send it as X-Tenant-ID on tenant routes',
    pattern: TENANT_SLUG_PATTERN.source,
    maxLength: TENANT_SLUG_MAX_LENGTH,
  })
  tenantId!: string;

  @ApiProperty({ ...FARM_TYPE_ENUM, example: 'vegetable' })
  farmType!: FarmType;

  @ApiProperty({ type: String, format: 'uri', nullable: true, example: null })
  logoUrl!: string | null;

  @ApiProperty({ ...ORGANIZATION_STATUS_ENUM, example: 'active' })
  status!: OrganizationStatus;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;

  static from(org: Organization): OrganizationDto {
    return {
      id: org.id,
      name: org.name,
      tenantId: org.tenantId,
      farmType: org.farmType,
      logoUrl: org.logoUrl,
      status: org.status,
      createdAt: org.createdAt.toISOString(),
      updatedAt: org.updatedAt.toISOString(),
    };
  }
}
