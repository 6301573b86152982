import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader } from '@nestjs/swagger';
import { PLATFORM_ADMIN_SCHEME, PublicTenantRoute, TENANT_USER_SCHEME } from '../auth/auth.decorators';
import { TenantAuthGuard } from '../auth/tenant-auth.guard';
import { TENANT_SLUG_MAX_LENGTH, TENANT_SLUG_PATTERN } from './tenant-slug';

/**
 * Marks a controller as a tenant route: the guard (a validated tenant, the user of the access token the tenant
 * middleware checked, or the platform token; TenantCredentials), the X-Tenant-ID header, the security schemes and
 * the errors in OpenAPI. `auth: 'none'` (login) keeps the tenant checks and drops authentication; `auth: 'user'`
 * documents routes about the calling user, which answer the platform token with 403.
 */
export function TenantRoute({
  auth = 'user-or-platform',
}: { auth?: 'none' | 'user' | 'user-or-platform' } = {}): ClassDecorator {
  return applyDecorators(
    UseGuards(TenantAuthGuard),
    ApiHeader({
      name: 'X-Tenant-ID',
      required: false,
      description:
        "The organization's tenant id. May be omitted when the host is <tenantId>.TENANT_BASE_DOMAIN.",
      schema: {
        type: 'string',
        pattern: TENANT_SLUG_PATTERN.source,
        maxLength: TENANT_SLUG_MAX_LENGTH,
        example: 'green-valley-co-op',
      },
    }),
    ...(auth === 'none'
      ? [PublicTenantRoute()]
      : [
          ApiBearerAuth(TENANT_USER_SCHEME),
          ...(auth === 'user-or-platform' ? [ApiBearerAuth(PLATFORM_ADMIN_SCHEME)] : []),
        ]),
  );
}
