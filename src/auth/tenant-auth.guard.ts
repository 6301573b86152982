import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, UnauthenticatedError } from '../common/domain-errors';
import { User } from '../users/user.entity';
import { AccessClaims, AccessTokens } from './access-tokens';
import { defaultRequiredRole, PUBLIC_TENANT_ROUTE, REQUIRED_ROLE } from './auth.decorators';
import { PlatformToken } from './platform-token';
import { tenantRequired } from '../tenancy/tenant-request';
import { AuthenticatedRequest, bearerToken, Principal, tokenRevoked } from './principal';
import { Role, roleAtLeast } from './roles';

/** What a route's decorators ask of the guard; one object per route, shared by all of its requests. */
interface RouteAccess {
  readonly isPublic: boolean;
  /** Undefined when the route names no role: the method's default applies. */
  readonly requiredRole: Role | undefined;
}

/**
 * Guards every tenant route. It fails closed when the tenant middleware has not validated a tenant (a route outside
 * the middleware's paths), then authenticates and authorizes: a user's access token issued for this tenant (403
 * for another tenant's), whose user still exists with the same credentials (401 otherwise), with a role at least
 * the route's; or the platform token (operator support access, logged with the tenant). A singleton: it loads the
 * user through the tenant ORM's EntityManager, which resolves to the request's fork.
 */
@Injectable()
export class TenantAuthGuard implements CanActivate {
  private readonly logger = new Logger('PlatformAccess');
  /**
   * Each route's access by controller class and handler (a handler function may sit on several classes), read
   * through the Reflector once per route instead of on every request: up to four metadata lookups, ~0.5 % of a warm
   * request's CPU in the bench's profile (bench/README.md, 2026-11-27).
   */
  private readonly accessByRoute = new WeakMap<object, WeakMap<object, RouteAccess>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly platformToken: PlatformToken,
    private readonly tokens: AccessTokens,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const tenant = request.tenant;
    if (!tenant) {
      throw tenantRequired();
    }
    const access = this.accessOf(context);
    if (access.isPublic) return true;
    const required = access.requiredRole ?? defaultRequiredRole(request.method);
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) {
      throw new UnauthenticatedError('AUTH_REQUIRED', 'Send Authorization: Bearer <access token>');
    }
    let claims: AccessClaims;
    try {
      claims = this.tokens.verify(token);
    } catch (error) {
      // The platform token is no access token of ours, so it is compared (a SHA-256 of the candidate) only once the
      // token has failed as one: users' requests, nearly all of them, skip that hash.
      if (!this.platformToken.matches(token)) throw error;
      this.logger.log(
        `Platform operator access to tenant ${tenant.record.tenantId}: ${request.method} ${request.originalUrl}` +
          ` (request ${String(request.headers['x-request-id'])})`,
      );
      request.principal = { kind: 'platform', role: 'admin' };
      return true;
    }
    if (claims.tid !== tenant.record.tenantId) {
      throw new ForbiddenError('TENANT_MISMATCH', 'The access token was issued for another organization');
    }
    const user = await tenant.lease.orm.em.findOne(User, { id: claims.sub });
    if (!user || user.credentialsVersion !== claims.ver) throw tokenRevoked();
    const principal: Principal = { kind: 'user', user, role: user.role };
    if (!roleAtLeast(principal.role, required)) {
      throw new ForbiddenError(
        'ROLE_FORBIDDEN',
        `This needs the ${required} role or higher; your role is ${principal.role}`,
      );
    }
    request.principal = principal;
    return true;
  }

  private accessOf(context: ExecutionContext): RouteAccess {
    const controller = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.accessByRoute.get(controller);
    if (!byHandler) {
      byHandler = new WeakMap();
      this.accessByRoute.set(controller, byHandler);
    }
    let access = byHandler.get(handler);
    if (!access) {
      const targets = [handler, controller];
      access = {
        isPublic:
          this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_TENANT_ROUTE, targets) === true,
        requiredRole: this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets),
      };
      byHandler.set(handler, access);
    }
    return access;
  }
}
