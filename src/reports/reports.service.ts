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

  /**
   * One row per crop and unit, aggregated by PostgreSQL in one query (exact numeric sums, answered as JSON numbers:
   * exact to the thousandth up to 2^43, see HarvestSummaryRowDto). The harvests are grouped by crop and unit first
   * and the crops' names joined to the groups, so the join and the sort see one row per group instead of one per
   * harvest.
   */
  async harvestSummary(query: HarvestSummaryQueryDto): Promise<HarvestSummaryRowDto[]> {
    const range = dateRange(query.from, query.to, ['from', 'to']);
    const knex = this.em.getKnex();
    const groups = knex('harvests')
      .select(
        'crop_id',
        'unit',
        knex.raw('sum(quantity) as total'),
        knex.raw('count(*)::int as count'),
        knex.raw('min(harvested_at) as first'),
        knex.raw('max(harvested_at) as last'),
      )
      .groupBy('crop_id', 'unit');
    if (range?.$gte) void groups.where('harvested_at', '>=', range.$gte);
    if (range?.$lte) void groups.where('harvested_at', '<=', range.$lte);
    if (query.cropId) void groups.where('crop_id', query.cropId);
    const sql = knex
      .from(groups.as('g'))
      .join('crops as c', 'c.id', 'g.crop_id')
      .select(
        'g.crop_id as cropId',
        'c.name as cropName',
        'g.unit as unit',
        knex.raw('g.total::text as "totalQuantity"'),
        'g.count as harvestCount',
        knex.raw('g.first::text as "firstHarvestedAt"'),
        knex.raw('g.last::text as "lastHarvestedAt"'),
      )
      // Case aside, names compare in the database's collation (code points on a C-locale server).
      .orderByRaw('lower(c.name), c.name, g.crop_id, g.unit');
    const rows: SummaryRow[] = await this.em.execute(sql);
    return rows.map((row) => ({ ...row, totalQuantity: Number(row.totalQuantity) }));
  }
}
