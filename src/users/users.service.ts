import { EntityManager, LockMode, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { forgiveLoginFailures } from '../auth/login-throttle';
import { PasswordHasher } from '../auth/password-hasher';
import { currentUser, Principal } from '../auth/principal';
import { ConflictError } from '../common/domain-errors';
import { findByIdOrFail } from '../common/find-or-fail';
import { findPage } from '../common/find-page';
import { definedOnly, NEWEST_FIRST } from '../common/queries';
import { InjectTenantEntityManager } from '../tenancy/tenant-entity-manager';
import { CreateUserDto, UpdateUserDto } from './dto/user.dto';
import { User } from './user.entity';

/** Read again and row-locked: the guard may have loaded the user earlier, and a password change bumps it too. */
const LOCKED = { refresh: true, lockMode: LockMode.PESSIMISTIC_WRITE } as const;

@Injectable()
export class UsersService {
  constructor(
    @InjectTenantEntityManager() private readonly em: EntityManager,
    private readonly hasher: PasswordHasher,
  ) {}

  async create({ password, role, ...fields }: CreateUserDto, caller: Principal): Promise<User> {
    const passwordHash = await this.hasher.hash(password);
    return this.underAdminLock(caller, async (em) => {
      const user = em.create(User, { ...fields, role: role ?? 'member', passwordHash });
      await this.flush(fields.email, em);
      return user;
    });
  }

  list(limit: number, offset: number): Promise<[User[], number]> {
    return findPage(this.em, User, {}, { orderBy: NEWEST_FIRST, limit, offset });
  }

  get(id: string): Promise<User> {
    return findByIdOrFail(this.em, User, id);
  }

  /**
   * A new password also revokes the user's tokens and lifts a login lockout of the user's email (an admin's reset
   * is how a locked-out user gets back in); demoting the last admin is refused (409).
   */
  async update(id: string, { password, ...fields }: UpdateUserDto, caller: Principal): Promise<User> {
    const passwordHash = password === undefined ? undefined : await this.hasher.hash(password);
    return this.underAdminLock(caller, async (em) => {
      const user = await findByIdOrFail(em, User, id, LOCKED);
      if (fields.role !== undefined && fields.role !== 'admin') await this.keepAnAdmin(em, user, 'demote');
      em.assign(user, definedOnly(fields));
      if (passwordHash !== undefined) user.setPasswordHash(passwordHash);
      await this.flush(user.email, em);
      if (passwordHash !== undefined) await forgiveLoginFailures(em, user.email);
      return user;
    });
  }

  async remove(id: string, caller: Principal): Promise<void> {
    await this.underAdminLock(caller, async (em) => {
      const user = await findByIdOrFail(em, User, id, LOCKED);
      await this.keepAnAdmin(em, user, 'delete');
      em.remove(user);
      await em.flush();
    });
  }

  /**
   * An admin's changes to users run one at a time per tenant (a transaction-scoped advisory lock), so two admins
   * demoting each other concurrently cannot leave the organization without one. Under the lock the calling user is
   * read again: one demoted, deleted or logged out by a password change while the request waited (its guard ran
   * before; a password hash takes a while) is refused like a request arriving now.
   */
  private underAdminLock<T>(caller: Principal, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.em.transactional(async (em) => {
      await em.execute(`select pg_advisory_xact_lock(hashtext('users:admins'))`);
      if (caller.kind === 'user') {
        await currentUser(em, caller.user.id, caller.tokenVersion, 'admin', { refresh: true });
      }
      return work(em);
    });
  }

  /**
   * The last admin who can log in stays: one without a password (from before roles) neither counts as another admin
   * nor is kept (so a mistaken promotion of such a user can be undone).
   */
  private async keepAnAdmin(em: EntityManager, user: User, change: 'demote' | 'delete'): Promise<void> {
    if (user.role !== 'admin') return;
    const admins = await em.find(User, { role: 'admin', passwordHash: { $ne: null } }, { fields: ['id'] });
    if (!admins.some((admin) => admin.id === user.id) || admins.length > 1) return;
    throw new ConflictError(
      'LAST_ADMIN',
      `Cannot ${change} ${user.email}: the organization needs at least one admin who can log in; make another ` +
        'user with a password admin first',
    );
  }

  /** The unique index on lower(email) decides, so two concurrent requests cannot both win. */
  private async flush(email: string, em: EntityManager = this.em): Promise<void> {
    try {
      await em.flush();
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        throw new ConflictError('USER_EMAIL_TAKEN', `A user with the email ${email} already exists`);
      }
      throw error;
    }
  }
}
