import { EntityManager, LockMode } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { ForbiddenError, UnauthenticatedError } from '../common/domain-errors';
import { InjectTenant, InjectTenantEntityManager } from '../tenancy/tenant-entity-manager';
import type { TenantPayload } from '../tenancy/tenant-context-id.strategy';
import { UserDto } from '../users/dto/user.dto';
import { User, withEmail } from '../users/user.entity';
import { AccessTokens } from './access-tokens';
import { AccessTokenDto, ChangePasswordDto, LoginDto } from './dto/auth.dto';
import { forgiveLoginFailures, recordFailedCheck, recordLoginAttempt } from './login-throttle';
import { PasswordHasher } from './password-hasher';
import { currentUser, Principal } from './principal';

/** Logging in to a tenant and changing one's password. */
@Injectable()
export class AuthService {
  constructor(
    @InjectTenantEntityManager() private readonly em: EntityManager,
    @InjectTenant() private readonly tenant: TenantPayload,
    private readonly hasher: PasswordHasher,
    private readonly tokens: AccessTokens,
  ) {}

  /** One answer for an unknown email, a user without a password and a wrong password; 429 after too many. */
  async login(dto: LoginDto): Promise<AccessTokenDto> {
    const user = await this.em.findOne(User, withEmail(dto.email), { populate: ['passwordHash'] });
    const checked = user?.credentialsVersion;
    const attempt = await recordLoginAttempt(this.em, dto.email, () => this.hasher.admit());
    try {
      const right = await attempt.place.verify(user?.passwordHash ?? null, dto.password);
      if (!right || !user || !(await this.stillHolds(user.id, checked))) {
        await recordFailedCheck(this.em, attempt);
        throw new UnauthenticatedError('INVALID_CREDENTIALS', 'The email or the password is wrong');
      }
      await forgiveLoginFailures(this.em, dto.email);
      return this.issue(user);
    } finally {
      attempt.place.release();
    }
  }

  /**
   * Whether a user's password is still the one a login checked: a reset or deletion committing meanwhile is waited
   * for (the row read FOR SHARE) and seen, so the old password gets no token that is revoked on its first use.
   */
  private async stillHolds(id: string, checked: number | undefined): Promise<boolean> {
    const rows = await this.em.execute<Array<{ version: number }>>(
      'SELECT credentials_version AS version FROM users WHERE id = ? FOR SHARE',
      [id],
    );
    return rows.length === 1 && rows[0].version === checked;
  }

  /**
   * Checks the current password (failures count toward the login lockout), stores the new one and answers with a
   * new token: older ones stop working. The user's row is read again before the check and again, locked, before
   * the write: a concurrent admin reset or password change makes the caller's token revoked (401), so it wins
   * instead of being overwritten or answered as a wrong current password. Both hashes are computed unlocked.
   */
  async changePassword(principal: Principal, dto: ChangePasswordDto): Promise<AccessTokenDto> {
    const { id, email, credentialsVersion } = this.userOf(principal);
    const current = await currentUser(this.em, id, credentialsVersion, 'viewer', {
      populate: ['passwordHash'],
      refresh: true,
    });
    const attempt = await recordLoginAttempt(this.em, email, () => this.hasher.admit());
    try {
      if (!(await attempt.place.verify(current.passwordHash ?? null, dto.currentPassword))) {
        await recordFailedCheck(this.em, attempt);
        throw new ForbiddenError('PASSWORD_WRONG', 'The current password is wrong');
      }
    } finally {
      attempt.place.release();
    }
    await forgiveLoginFailures(this.em, email);
    const passwordHash = await this.hasher.hash(dto.newPassword);
    const user = await this.em.transactional(async (em) => {
      const locked = await currentUser(em, id, credentialsVersion, 'viewer', {
        lockMode: LockMode.PESSIMISTIC_WRITE,
        refresh: true,
      });
      locked.setPasswordHash(passwordHash);
      return locked;
    });
    return this.issue(user);
  }

  /** The user behind a user token; the platform operator has no user of the tenant. */
  userOf(principal: Principal): User {
    if (principal.kind !== 'user') {
      throw new ForbiddenError(
        'USER_TOKEN_REQUIRED',
        'This route is about the calling user: log in as a user of the organization',
      );
    }
    return principal.user;
  }

  private issue(user: User): AccessTokenDto {
    const token = this.tokens.issue({
      sub: user.id,
      tid: this.tenant.tenantId,
      role: user.role,
      ver: user.credentialsVersion,
    });
    return { ...token, tokenType: 'Bearer', user: UserDto.from(user) };
  }
}
