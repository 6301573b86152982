import type { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { InvalidInputError } from '../common/domain-errors';
import type { TenantPayload } from '../tenancy/tenant-context-id.strategy';
import { InjectTenant, InjectTenantEntityManager } from '../tenancy/tenant-entity-manager';
import { Crop } from './crop.entity';
import { CreateCropDto } from './dto/create-crop.dto';

@Injectable()
export class CropsService {
  constructor(
    @InjectTenantEntityManager() private readonly em: EntityManager,
    @InjectTenant() private readonly tenant: TenantPayload,
  ) {}

  async create(dto: CreateCropDto): Promise<Crop> {
    if (dto.organizationId && dto.organizationId.toLowerCase() !== this.tenant.organizationId) {
      throw new InvalidInputError(
        'ORGANIZATION_MISMATCH',
        `organizationId must be the organization of tenant ${this.tenant.tenantId} or be omitted`,
      );
    }
    const crop = this.em.create(Crop, { name: dto.name, plantingDate: dto.plantingDate });
    await this.em.flush();
    return crop;
  }

  async list(limit: number, offset: number): Promise<[Crop[], number]> {
    return this.em.findAndCount(Crop, {}, { orderBy: { createdAt: 'desc', id: 'desc' }, limit, offset });
  }
}
