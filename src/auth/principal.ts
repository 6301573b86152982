import type { EntityManager, FindOneOptions } from '@mikro-orm/core';
import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ForbiddenError, UnauthenticatedError } from '../common/domain-errors';
import type { TenantRequest } from '../tenancy/tenant-request';
import { User } from '../users/user.entity';
import { Role, roleAtLeast } from './roles';

/**
 * Who is calling a tenant route: a user of the tenant (with the credentials version of its access token), or the
 * platform operator with support access.
 */
export type Principal =
  { kind: 'user'; user: User; role: Role; tokenVersion: number } | { kind: 'platform'; role: 'admin' };

export type AuthenticatedRequest = TenantRequest & { principal?: Principal };

/** The caller the tenant auth guard established (only on routes behind it). */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    if (!principal) throw new Error('CurrentPrincipal used on a route without the tenant auth guard');
    return principal;
  },
);

/** The Bearer credential of a request, or undefined when there is none. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +([^\s]+) *$/i.exec(authorization ?? '');
  return match?.[1];
}

/** 401 for a request to a tenant route without a token. */
export function authRequired(): UnauthenticatedError {
  return new UnauthenticatedError('AUTH_REQUIRED', 'Send Authorization: Bearer <access token>');
}

/**
 * The user an access token names, read now: 401 when it is gone or its credentials changed since the token was
 * issued (`tokenVersion`), 403 when its role is below `required`.
 */
export async function currentUser(
  em: EntityManager,
  id: string,
  tokenVersion: number,
  required: Role,
  options: FindOneOptions<User, 'passwordHash'> = {},
): Promise<User> {
  const user = await em.findOne(User, { id }, options);
  if (!user || user.credentialsVersion !== tokenVersion) throw tokenRevoked();
  if (!roleAtLeast(user.role, required)) throw roleForbidden(required, user.role);
  return user;
}

/** 403 for a user whose role is below the one a route needs. */
function roleForbidden(required: Role, role: Role): ForbiddenError {
  return new ForbiddenError(
    'ROLE_FORBIDDEN',
    `This needs the ${required} role or higher; your role is ${role}`,
  );
}

/** 401 for a user token whose user was deleted or whose credentials changed since it was issued. */
export function tokenRevoked(): UnauthenticatedError {
  return new UnauthenticatedError(
    'TOKEN_REVOKED',
    'The access token is no longer valid (its user was deleted or changed password); log in again',
  );
}
