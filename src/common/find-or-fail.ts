import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityClass, LockMode } from '@mikro-orm/core';
import { NotFoundError } from './domain-errors';

/** Loads an entity by primary key or throws a 404 domain error (`CROP_NOT_FOUND`, "Crop <id> not found"). */
export async function findByIdOrFail<T extends object>(
  em: EntityManager,
  entity: EntityClass<T>,
  id: string,
  options: { refresh?: boolean; lockMode?: LockMode.PESSIMISTIC_WRITE | LockMode.PESSIMISTIC_READ } = {},
): Promise<T> {
  const found = await em.findOne(entity, id as never, options);
  if (!found) throw notFound(entity, id);
  return found;
}

/** The 404 for an entity that does not exist: `CROP_NOT_FOUND`, "Crop <id> not found". */
export function notFound(entity: EntityClass<object>, id: string): NotFoundError {
  return new NotFoundError(`${entity.name.toUpperCase()}_NOT_FOUND`, `${entity.name} ${id} not found`);
}
