import { EntityManager, LockMode } from '@mikro-orm/postgresql';
import { FilterQuery } from '@mikro-orm/core';
import { Injectable } from '@nestjs/common';
import { InvalidInputError } from '../common/domain-errors';
import { findByIdOrFail, notFound } from '../common/find-or-fail';
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
    return this.em.transactional(async (em) => {
      const crop = await sharedCrop(em, cropId);
      const harvestedAt = dto.harvestedAt ?? todayUtc();
      notBeforePlanting(harvestedAt, crop);
      return em.create(Harvest, { ...fields, harvestedAt, crop });
    });
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
      const moved = cropId !== undefined && cropId.toLowerCase() !== harvest.crop.id;
      const harvestedAt = fields.harvestedAt ?? harvest.harvestedAt;
      // Only a new date or crop is checked: a form sending every field back changes neither.
      if (!moved && harvestedAt === harvest.harvestedAt) return em.assign(harvest, fields);
      const crop = await sharedCrop(em, moved ? cropId : harvest.crop.id);
      notBeforePlanting(harvestedAt, crop);
      return em.assign(harvest, { ...fields, crop });
    });
  }

  /** One statement: of two concurrent deletes, the one that finds the row gone answers 404. */
  async remove(id: string): Promise<void> {
    if ((await this.em.nativeDelete(Harvest, { id })) === 0) throw notFound(Harvest, id);
  }
}

/** A harvest dated before its crop was planted is a mistake of the input (400). */
function notBeforePlanting(harvestedAt: string, crop: Crop): void {
  if (harvestedAt < crop.plantingDate) {
    throw new InvalidInputError(
      'HARVEST_BEFORE_PLANTING',
      `harvestedAt ${harvestedAt} is before the planting date ${crop.plantingDate} of crop ${crop.id}`,
    );
  }
}

/**
 * The harvest's crop, locked for share until the harvest is written: a concurrent delete of the crop waits and then
 * counts the harvest (409), or has deleted it first and this answers 404, never the foreign key's bare 409.
 */
function sharedCrop(em: EntityManager, id: string): Promise<Crop> {
  return findByIdOrFail(em, Crop, id, { lockMode: LockMode.PESSIMISTIC_READ });
}
