import { EntityManager, LockMode } from '@mikro-orm/postgresql';
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

  /**
   * On the row locked: a crop deleted meanwhile answers 404, not 200 for an update of nothing. A planting date moved
   * past one of its harvests is refused (409); a harvest's write locks its crop for share, so none slips in meanwhile.
   */
  update(id: string, dto: UpdateCropDto): Promise<Crop> {
    return this.em.transactional(async (em) => {
      const crop = await findByIdOrFail(em, Crop, id, { lockMode: LockMode.PESSIMISTIC_WRITE });
      // Only a later date can pass a harvest: a form sending the date back, or an earlier one, is not checked.
      if (dto.plantingDate !== undefined && dto.plantingDate > crop.plantingDate) {
        const earlier = await em.findOne(
          Harvest,
          { crop, harvestedAt: { $lt: dto.plantingDate } },
          { fields: ['harvestedAt'], orderBy: { harvestedAt: 'asc' } },
        );
        if (earlier) {
          throw new ConflictError(
            'PLANTING_AFTER_HARVEST',
            `Crop ${id} has a harvest on ${earlier.harvestedAt}, before the planting date ${dto.plantingDate}`,
          );
        }
      }
      em.assign(crop, definedOnly(dto));
      return crop;
    });
  }

  /**
   * A crop with harvests stays (409). The row is locked before the harvests are counted, and a harvest's write
   * locks its crop for share: a harvest added meanwhile is counted, or finds its crop gone (404).
   */
  async remove(id: string): Promise<void> {
    await this.em.transactional(async (em) => {
      const crop = await findByIdOrFail(em, Crop, id, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const harvests = await em.count(Harvest, { crop });
      if (harvests > 0) {
        throw new ConflictError(
          'CROP_HAS_HARVESTS',
          `Crop ${id} has ${harvests} harvest(s); delete them before deleting the crop`,
        );
      }
      em.remove(crop);
    });
  }
}
