import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { Role } from './roles';

export const REQUIRED_ROLE = 'auth:requiredRole';
/** The OpenAPI extension stating an operation's weakest role (`buildOpenApiDocument` fills in the defaults). */
export const REQUIRED_ROLE_EXTENSION = 'x-required-role';

/** The OpenAPI security schemes: a tenant user's access token, and the platform operator's token. */
export const TENANT_USER_SCHEME = 'tenantUser';
export const PLATFORM_ADMIN_SCHEME = 'platformAdmin';
export const PUBLIC_TENANT_ROUTE = 'auth:publicTenantRoute';
export const OPEN_SIGNUP_ROUTE = 'auth:openSignupRoute';

/**
 * The weakest role that may call a tenant route. Without it, `defaultRequiredRole` applies, so a write route
 * nobody annotated is closed rather than open.
 */
export const RequireRole = (role: Role): MethodDecorator =>
  applyDecorators(SetMetadata(REQUIRED_ROLE, role), ApiExtension(REQUIRED_ROLE_EXTENSION, role));

/** Reads (GET, HEAD) need `viewer`, every other method `admin`. */
export function defaultRequiredRole(method: string): Role {
  return ['GET', 'HEAD'].includes(method.toUpperCase()) ? 'viewer' : 'admin';
}

/** A tenant route anyone may call (login): the tenant is still resolved and validated. */
export const PublicTenantRoute = (): MethodDecorator & ClassDecorator =>
  SetMetadata(PUBLIC_TENANT_ROUTE, true);

/** The control-plane route that needs no platform token when SIGNUP_MODE=open. */
export const OpenSignupRoute = (): MethodDecorator => SetMetadata(OPEN_SIGNUP_ROUTE, true);
