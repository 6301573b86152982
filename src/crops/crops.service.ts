import type { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { ConflictError, InvalidInputError } from '../common/domain-errors';
import { findByIdOrFail } from '../common/find-or-fail';
import { findPage } from '../common/find-page';
import { definedOnly, NEWEST_FIRST } from '../common/queries';
import { Harvest } from '../harvests/harvest.entity';
import type { TenantPayload } from '../tenancy/tenant-context-id.strategy';
import { InjectTenant, InjectTenantEntityManager } from '../tenancy/tenant-entity-manager';
import { Crop } from './crop.entity';
import { cropFilter } from './crop-filter';
import { CreateCropDto, ListCropsQueryDto, UpdateCropDto } from './dto/crop.dto';

@Injectable()
export class CropsService {
  constructor(
    @InjectTenantEntityManager() private readonly em: EntityManager,
    @InjectTenant() private readonly tenant: TenantPayload,
  ) {}

  async create(dto: CreateCropDto): Promise<Crop> {
    const { organizationId, ...fields } = dto;
    if (organizationId && organizationId.toLowerCase() !== this.tenant.organizationId) {
      throw new InvalidInputError(
        'ORGANIZATION_MISMATCH',
        `organizationId must be the organization of tenant ${this.tenant.tenantId} or be omitted`,
      );
    }
    const crop = this.em.create(Crop, fields);
    await this.em.flush();
    return crop;
  }

  list(query: ListCropsQueryDto): Promise<[Crop[], number]> {
    return findPage(this.em, Crop, cropFilter(query), {
      orderBy: NEWEST_FIRST,
      limit: query.limit,
      offset: query.offset,
    });
  }

  get(id: string): Promise<Crop> {
    return findByIdOrFail(this.em, Crop, id);
  }

  async update(id: string, dto: UpdateCropDto): Promise<Crop> {
    const crop = await this.get(id);
    this.em.assign(crop, definedOnly(dto));
    await this.em.flush();
    return crop;
  }

  /** A crop with harvests stays (409); the foreign key also refuses a harvest added meanwhile. */
  async remove(id: string): Promise<void> {
    const crop = await this.get(id);
    const harvests = await this.em.count(Harvest, { crop });
    if (harvests > 0) {
      throw new ConflictError(
        'CROP_HAS_HARVESTS',
        `Crop ${id} has ${harvests} harvest(s); delete them before deleting the crop`,
      );
    }
    this.em.remove(crop);
    await this.em.flush();
  }
}
