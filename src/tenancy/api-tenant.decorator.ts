import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader } from '@nestjs/swagger';
import { PublicTenantRoute } from '../auth/auth.decorators';
import { TenantAuthGuard } from '../auth/tenant-auth.guard';
import { ApiErrors } from '../common/api-errors.decorator';
import { TenantGuard } from './tenant.guard';
import { TENANT_SLUG_PATTERN } from './tenant-slug';

/** The OpenAPI security schemes: a tenant user's access token, and the platform operator's token. */
export const TENANT_USER_SCHEME = 'tenantUser';
export const PLATFORM_ADMIN_SCHEME = 'platformAdmin';

/**
 * Marks a controller as a tenant route: the tenant guard, then the auth guard (a user's access token for this
 * tenant, or the platform token), the X-Tenant-ID header, the security schemes and the errors in OpenAPI.
 * `public: true` (login) keeps the tenant checks and drops authentication.
 */
export function TenantRoute({ public: isPublic = false }: { public?: boolean } = {}): ClassDecorator {
  return applyDecorators(
    UseGuards(TenantGuard, TenantAuthGuard),
    ApiHeader({
      name: 'X-Tenant-ID',
      required: true,
      description:
        "The organization's tenant id. May be omitted when the host is <tenantId>.TENANT_BASE_DOMAIN.",
      schema: {
        type: 'string',
        pattern: TENANT_SLUG_PATTERN.source,
        maxLength: 48,
        example: 'green-valley-co-op',
      },
    }),
    ApiErrors(400, 404, 503),
    ...(isPublic
      ? [PublicTenantRoute()]
      : [ApiBearerAuth(TENANT_USER_SCHEME), ApiBearerAuth(PLATFORM_ADMIN_SCHEME), ApiErrors(401, 403)]),
  );
}
