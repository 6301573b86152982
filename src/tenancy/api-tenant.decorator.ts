import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator';
import { TenantGuard } from './tenant.guard';
import { TENANT_SLUG_PATTERN } from './tenant-slug';

/** Marks a controller as a tenant route: the guard, the X-Tenant-ID header and the tenant errors in OpenAPI. */
export function TenantRoute(): ClassDecorator {
  return applyDecorators(
    UseGuards(TenantGuard),
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
  );
}
