import { EntityManager, LockMode } from '@mikro-orm/postgresql';
import { FilterQuery } from '@mikro-orm/core';
import { Injectable } from '@nestjs/common';
import { findByIdOrFail } from '../common/find-or-fail';
import { findPage } from '../common/find-page';
import { PaginationQueryDto } from '../common/pagination.dto';
import { dateRange, definedOnly, NEWEST_FIRST, todayUtc } from '../common/queries';
import { Crop } from '../crops/crop.entity';
import { InjectTenantEntityManager } from '../tenancy/tenant-entity-manager';
import { CreateHarvestDto, ListHarvestsQueryDto, UpdateHarvestDto } from './dto/harvest.dto';
import { Harvest } from './harvest.entity';

@Injectable()
export class HarvestsService {
  constructor(@InjectTenantEntityManager() private readonly em: EntityManager) {}

  create(dto: CreateHarvestDto): Promise<Harvest> {
    const { cropId, ...fields } = dto;
    return this.em.transactional(async (em) =>
      em.create(Harvest, {
        ...fields,
        harvestedAt: dto.harvestedAt ?? todayUtc(),
        crop: await sharedCrop(em, cropId),
      }),
    );
  }

  list(query: ListHarvestsQueryDto): Promise<[Harvest[], number]> {
    const where: FilterQuery<Harvest> = {};
    if (query.cropId) where.crop = query.cropId;
    if (query.unit) where.unit = query.unit;
    const harvested = dateRange(query.from, query.to, ['from', 'to']);
    if (harvested) where.harvestedAt = harvested;
    return findPage(this.em, Harvest, where, {
      orderBy: NEWEST_FIRST,
      limit: query.limit,
      offset: query.offset,
    });
  }

  /** The harvests of one crop; 404 when the crop does not exist. */
  async listForCrop(cropId: string, page: PaginationQueryDto): Promise<[Harvest[], number]> {
    await findByIdOrFail(this.em, Crop, cropId);
    return this.list({ ...page, cropId });
  }

  get(id: string): Promise<Harvest> {
    return findByIdOrFail(this.em, Harvest, id);
  }

  /** On the row locked, as `create` with a new crop: a harvest deleted meanwhile answers 404. */
  update(id: string, dto: UpdateHarvestDto): Promise<Harvest> {
    return this.em.transactional(async (em) => {
      const harvest = await findByIdOrFail(em, Harvest, id, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const { cropId, ...fields } = definedOnly(dto);
      em.assign(harvest, { ...fields, ...(cropId ? { crop: await sharedCrop(em, cropId) } : {}) });
      return harvest;
    });
  }

  async remove(id: string): Promise<void> {
    this.em.remove(await this.get(id));
    await this.em.flush();
  }
}

/**
 * The harvest's crop, locked for share until the harvest is written: a concurrent delete of the crop waits and then
 * counts the harvest (409), or has deleted it first and this answers 404, never the foreign key's bare 409.
 */
function sharedCrop(em: EntityManager, id: string): Promise<Crop> {
  return findByIdOrFail(em, Crop, id, { lockMode: LockMode.PESSIMISTIC_READ });
}
