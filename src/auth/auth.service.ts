import type { EntityManager } from '@mikro-orm/postgresql';
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
    const emailKey = dto.email.toLowerCase();
    await recordLoginAttempt(this.em, emailKey);
    const user = await this.em.findOne(User, withEmail(emailKey), { populate: ['passwordHash'] });
    if (!(await this.hasher.verify(user?.passwordHash ?? null, dto.password)) || !user) {
      throw new UnauthenticatedError('INVALID_CREDENTIALS', 'The email or the password is wrong');
    }
    await forgiveLoginFailures(this.em, emailKey);
    return this.issue(user);
  }

  /** Checks the current password, stores the new one, and answers with a new token: older ones stop working. */
  async changePassword(principal: Principal, dto: ChangePasswordDto): Promise<AccessTokenDto> {
    const user = this.userOf(principal);
    const emailKey = user.email.toLowerCase();
    await recordLoginAttempt(this.em, emailKey);
    await this.em.populate(user, ['passwordHash']);
    if (!(await this.hasher.verify(user.passwordHash ?? null, dto.currentPassword))) {
      throw new ForbiddenError('PASSWORD_WRONG', 'The current password is wrong');
    }
    await forgiveLoginFailures(this.em, emailKey);
    user.passwordHash = await this.hasher.hash(dto.newPassword);
    user.credentialsVersion += 1;
    await this.em.flush();
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
