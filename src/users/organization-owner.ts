import { EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import type { PendingOwner } from '../organizations/organization.entity';
import { User, withEmail } from './user.entity';

/**
 * Creates the owner a sign-up asked for, as an admin, in the new tenant database. Idempotent, so a retried or
 * resumed sign-up that already got this far updates the same user instead of failing on the email; when two
 * attempts race (a sign-up and another process resuming it), the one that loses the insert updates instead.
 */
export async function saveOrganizationOwner(em: EntityManager, owner: PendingOwner): Promise<void> {
  try {
    await upsertOwner(em, owner);
  } catch (error) {
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
    em.clear();
    await upsertOwner(em, owner);
  }
}

async function upsertOwner(em: EntityManager, owner: PendingOwner): Promise<void> {
  const existing = await em.findOne(User, withEmail(owner.email));
  if (existing) {
    const { passwordHash, ...names } = owner;
    em.assign(existing, { ...names, role: 'admin' });
    existing.setPasswordHash(passwordHash);
  } else {
    em.create(User, { ...owner, role: 'admin' });
  }
  await em.flush();
}
