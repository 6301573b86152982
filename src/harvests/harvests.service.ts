import type { EntityManager } from '@mikro-orm/postgresql';
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

  async create(dto: CreateHarvestDto): Promise<Harvest> {
    const { cropId, ...fields } = dto;
    const harvest = this.em.create(Harvest, {
      ...fields,
      harvestedAt: dto.harvestedAt ?? todayUtc(),
      crop: await this.crop(cropId),
    });
    await this.em.flush();
    return harvest;
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
    await this.crop(cropId);
    return this.list({ ...page, cropId });
  }

  get(id: string): Promise<Harvest> {
    return findByIdOrFail(this.em, Harvest, id);
  }

  async update(id: string, dto: UpdateHarvestDto): Promise<Harvest> {
    const harvest = await this.get(id);
    const { cropId, ...fields } = definedOnly(dto);
    this.em.assign(harvest, { ...fields, ...(cropId ? { crop: await this.crop(cropId) } : {}) });
    await this.em.flush();
    return harvest;
  }

  async remove(id: string): Promise<void> {
    this.em.remove(await this.get(id));
    await this.em.flush();
  }

  private crop(id: string): Promise<Crop> {
    return findByIdOrFail(this.em, Crop, id);
  }
}
