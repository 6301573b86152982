import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityClass, EntityData, EntityDictionary, FilterQuery, QueryOrderMap } from '@mikro-orm/core';

/** The name the page's rows carry the total under; no entity has a column of that name. */
const TOTAL = '__total_count';

export interface PageOptions<T> {
  orderBy: QueryOrderMap<T>;
  limit: number;
  offset: number;
}

/**
 * What `em.findAndCount` returns (one page of managed entities and the number of all that match), in one statement
 * where `findAndCount` sends two: the count rides on the page's rows as an uncorrelated subquery, which PostgreSQL
 * evaluates once. A tenant's requests share one connection, so `findAndCount`'s two queries wait for each other
 * there; this saves that round trip. An empty page carries no count: its total is 0 when it starts at the first
 * item, and is counted by a second query when the offset is past the end. The rows become entities the way
 * `em.find` makes them (its result mapping, entity factory and load events); nothing is populated.
 */
export async function findPage<T extends object>(
  em: EntityManager,
  entity: EntityClass<T>,
  where: FilterQuery<T>,
  { orderBy, limit, offset }: PageOptions<T>,
): Promise<[T[], number]> {
  const total = em.createQueryBuilder(entity).count().where(where).getKnexQuery();
  const page = em
    .createQueryBuilder(entity)
    .select('*')
    .where(where)
    .orderBy(orderBy)
    .limit(limit)
    .offset(offset)
    .getKnexQuery()
    .select(em.getKnex().raw('(?) as ??', [total, TOTAL]));
  const rows: EntityDictionary<T>[] = await em.execute(page);
  if (rows.length === 0) {
    return [[], offset === 0 ? 0 : await em.count(entity, where)];
  }
  const count = Number(rows[0][TOTAL]);
  const meta = em.getMetadata(entity);
  const driver = em.getDriver();
  const factory = em.getEntityFactory();
  const entities = rows.map((row) => {
    delete row[TOTAL];
    return factory.create(entity, driver.mapResult(row, meta) as EntityData<T>, {
      merge: true,
      convertCustomTypes: true,
    });
  });
  await em.getUnitOfWork().dispatchOnLoadEvent();
  return [entities, count];
}
