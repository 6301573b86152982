import { FilterQuery } from '@mikro-orm/core';
import { dateRange, escapeLike } from '../common/queries';
import { Crop } from './crop.entity';
import { ListCropsQueryDto } from './dto/crop.dto';

/** The crops a list query asks for: name contains (case-insensitive), planted within a date range. */
export function cropFilter(query: ListCropsQueryDto): FilterQuery<Crop> {
  const where: FilterQuery<Crop> = {};
  if (query.name) where.name = { $ilike: `%${escapeLike(query.name)}%` };
  const planted = dateRange(query.plantedFrom, query.plantedTo, ['plantedFrom', 'plantedTo']);
  if (planted) where.plantingDate = planted;
  return where;
}
