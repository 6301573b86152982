import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityClass, EntityData, EntityDictionary, FilterQuery, QueryOrderMap } from '@mikro-orm/core';

/** The name the page's rows carry the total under; no entity has a column of that name. */
const TOTAL = '__total_count';

interface PageOptions<T> {
  orderBy: QueryOrderMap<T>;
  /** At least 1. */
  limit: number;
  offset: number;
}

/**
 * What `em.findAndCount` returns (one page of managed entities and the number of all that match), in one statement
 * where `findAndCount` sends two: the count rides on the page's rows as an uncorrelated subquery, which PostgreSQL
 * evaluates once. A tenant's pool would have to open a second connection for `findAndCount`'s two queries at once,
 * or run them one after the other; this saves that connection or round trip. An empty page carries no count: its
 * total is 0 when it starts at the first item, and is counted by a second query when the offset is past the end.
 *
 * Like `em.find` it reads the entity's columns but its lazy ones (a user's password hash), and makes entities with
 * `em.find`'s result mapping, entity factory and load events; unlike it, it populates nothing, neither flushes
 * first nor applies global filters, reads no inverse one-to-one's owner key, and where it names columns leaves
 * formulas out (the app's entities have none of these). For filters on the entity's own columns and to-one
 * relations: through a to-many relation the page would repeat rows and the count them.
 */
export async function findPage<T extends object>(
  em: EntityManager,
  entity: EntityClass<T>,
  where: FilterQuery<T>,
  { orderBy, limit, offset }: PageOptions<T>,
): Promise<[T[], number]> {
  const meta = em.getMetadata(entity);
  const platform = em.getPlatform();
  // Named columns only where some are lazy, as em.find does: they cost the query builder more than `*`.
  const fields = meta.props.some((prop) => prop.lazy)
    ? meta.props
        .filter((prop) => !prop.lazy && platform.shouldHaveColumn(prop, [], [], false, false))
        .map((prop) => prop.name)
    : '*';
  const total = em.createQueryBuilder(entity).where(where).count().getKnexQuery();
  const page = em
    .createQueryBuilder(entity)
    .select(fields)
    .where(where)
    .orderBy(orderBy)
    .limit(limit)
    .offset(offset)
    .getKnexQuery()
    .select(em.getKnex().raw('? as ??', [total, TOTAL]));
  const rows: EntityDictionary<T>[] = await em.execute(page);
  if (rows.length === 0) {
    return [[], offset === 0 ? 0 : await em.count(entity, where)];
  }
  const count = Number(rows[0][TOTAL]);
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
