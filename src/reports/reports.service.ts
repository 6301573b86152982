import type { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { dateRange } from '../common/queries';
import type { HarvestUnit } from '../harvests/harvest.entity';
import { InjectTenantEntityManager } from '../tenancy/tenant-entity-manager';
import { HarvestSummaryQueryDto, HarvestSummaryRowDto } from './dto/harvest-summary.dto';

interface SummaryRow {
  cropId: string;
  cropName: string;
  unit: HarvestUnit;
  totalQuantity: string;
  harvestCount: number;
  firstHarvestedAt: string;
  lastHarvestedAt: string;
}

@Injectable()
export class ReportsService {
  constructor(@InjectTenantEntityManager() private readonly em: EntityManager) {}

  /** One row per crop and unit, aggregated by PostgreSQL in one query (exact numeric sums). */
  async harvestSummary(query: HarvestSummaryQueryDto): Promise<HarvestSummaryRowDto[]> {
    const range = dateRange(query.from, query.to, ['from', 'to']);
    const knex = this.em.getKnex();
    const sql = knex('harvests as h')
      .join('crops as c', 'c.id', 'h.crop_id')
      .select(
        'h.crop_id as cropId',
        'c.name as cropName',
        'h.unit as unit',
        knex.raw('sum(h.quantity)::text as "totalQuantity"'),
        knex.raw('count(*)::int as "harvestCount"'),
        knex.raw('min(h.harvested_at)::text as "firstHarvestedAt"'),
        knex.raw('max(h.harvested_at)::text as "lastHarvestedAt"'),
      )
      .groupBy('h.crop_id', 'c.name', 'h.unit')
      .orderBy([{ column: 'c.name' }, { column: 'h.crop_id' }, { column: 'h.unit' }]);
    if (range?.$gte) void sql.where('h.harvested_at', '>=', range.$gte);
    if (range?.$lte) void sql.where('h.harvested_at', '<=', range.$lte);
    if (query.cropId) void sql.where('h.crop_id', query.cropId);
    const rows: SummaryRow[] = await this.em.execute(sql);
    return rows.map((row) => ({ ...row, totalQuantity: Number(row.totalQuantity) }));
  }
}
