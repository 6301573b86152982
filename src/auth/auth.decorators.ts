import { SetMetadata } from '@nestjs/common';
import type { Role } from './roles';

export const REQUIRED_ROLE = 'auth:requiredRole';
export const PUBLIC_TENANT_ROUTE = 'auth:publicTenantRoute';
export const OPEN_SIGNUP_ROUTE = 'auth:openSignupRoute';

/**
 * The weakest role that may call a tenant route. Without it, reads (GET) need `viewer` and every other method
 * needs `admin`, so a write route nobody annotated is closed rather than open.
 */
export const RequireRole = (role: Role): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLE, role);

/** A tenant route anyone may call (login): the tenant is still resolved and validated. */
export const PublicTenantRoute = (): MethodDecorator & ClassDecorator =>
  SetMetadata(PUBLIC_TENANT_ROUTE, true);

/** The control-plane route that needs no platform token when SIGNUP_MODE=open. */
export const OpenSignupRoute = (): MethodDecorator => SetMetadata(OPEN_SIGNUP_ROUTE, true);
