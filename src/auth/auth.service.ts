import { EntityManager, LockMode } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { ForbiddenError, UnauthenticatedError } from '../common/domain-errors';
import { InjectTenant, InjectTenantEntityManager } from '../tenancy/tenant-entity-manager';
import type { TenantPayload } from '../tenancy/tenant-context-id.strategy';
import { UserDto } from '../users/dto/user.dto';
import { User, withEmail } from '../users/user.entity';
import { AccessTokens } from './access-tokens';
import { AccessTokenDto, ChangePasswordDto, LoginDto } from './dto/auth.dto';
import { forgiveLoginFailures, recordLoginAttempt } from './login-throttle';
import { PasswordHasher } from './password-hasher';
import type { Principal } from './principal';

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
    await recordLoginAttempt(this.em, dto.email);
    const user = await this.em.findOne(User, withEmail(dto.email), { populate: ['passwordHash'] });
    if (!(await this.hasher.verify(user?.passwordHash ?? null, dto.password)) || !user) {
      throw new UnauthenticatedError('INVALID_CREDENTIALS', 'The email or the password is wrong');
    }
    await forgiveLoginFailures(this.em, dto.email);
    return this.issue(user);
  }

  /**
   * Checks the current password (failures count toward the login lockout), stores the new one and answers with a
   * new token: older ones stop working. Both hashes are computed before the user's row is locked; under the lock the
   * credentials version must still be the one the token carried, so a concurrent admin reset or password change
   * wins instead of being overwritten (401 then).
   */
  async changePassword(principal: Principal, dto: ChangePasswordDto): Promise<AccessTokenDto> {
    const caller = this.userOf(principal);
    const { id, email, credentialsVersion } = caller;
    await recordLoginAttempt(this.em, email);
    await this.em.populate(caller, ['passwordHash']);
    if (!(await this.hasher.verify(caller.passwordHash ?? null, dto.currentPassword))) {
      throw new ForbiddenError('PASSWORD_WRONG', 'The current password is wrong');
    }
    await forgiveLoginFailures(this.em, email);
    const passwordHash = await this.hasher.hash(dto.newPassword);
    const user = await this.em.transactional(async (em) => {
      const locked = await em.findOne(User, id, { refresh: true, lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!locked || locked.credentialsVersion !== credentialsVersion) {
        throw new UnauthenticatedError(
          'TOKEN_REVOKED',
          'The password was changed or the user deleted meanwhile; log in again',
        );
      }
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
