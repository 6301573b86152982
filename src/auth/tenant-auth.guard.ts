import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { defaultRequiredRole, PUBLIC_TENANT_ROUTE, REQUIRED_ROLE } from './auth.decorators';
import { tenantRequired } from '../tenancy/tenant-request';
import { AuthenticatedRequest, authRequired, currentUser } from './principal';
import { Role } from './roles';

/** What a route's decorators ask of the guard; one object per route, shared by all of its requests. */
interface RouteAccess {
  readonly isPublic: boolean;
  /** Undefined when the route names no role: the method's default applies. */
  readonly requiredRole: Role | undefined;
}

/**
 * Guards every tenant route. It fails closed when the tenant middleware has not validated a tenant (a route outside
 * the middleware's paths), then authorizes the credentials the middleware checked (TenantCredentials): a user's
 * access token for this tenant whose user still exists with the same credentials (401 otherwise), with a role at
 * least the route's; or the platform token (operator support access, logged with the tenant). A singleton: it loads
 * the user through the tenant ORM's EntityManager, which resolves to the request's fork.
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

  constructor(private readonly reflector: Reflector) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const tenant = request.tenant;
    if (!tenant) {
      throw tenantRequired();
    }
    const access = this.accessOf(context);
    if (access.isPublic) return true;
    const required = access.requiredRole ?? defaultRequiredRole(request.method);
    const credentials = tenant.credentials;
    // None on a route TenantCredentials took for public: were the two ever to disagree, this fails closed.
    if (!credentials) throw authRequired();
    if (credentials.kind === 'platform') {
      this.logger.log(
        `Platform operator access to tenant ${tenant.lease.tenantId}: ${request.method} ${request.originalUrl}` +
          ` (request ${String(request.headers['x-request-id'])})`,
      );
      request.principal = { kind: 'platform', role: 'admin' };
      return true;
    }
    const { claims } = credentials;
    const user = await currentUser(tenant.lease.orm.em, claims.sub, claims.ver, required);
    request.principal = { kind: 'user', user, role: user.role, tokenVersion: claims.ver };
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
