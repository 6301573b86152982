import { BadRequestException } from '@nestjs/common';
import type { Request } from 'express';
import type { Credentials } from '../auth/tenant-credentials';
import type { TenantLease } from './tenant-connection-registry';

/**
 * What the tenant middleware attaches to a request once the tenant is validated, the request's credentials checked
 * (undefined on a public route) and the tenant's ORM leased.
 */
export interface TenantContext {
  credentials: Credentials | undefined;
  lease: TenantLease;
}

export type TenantRequest = Request & { tenant?: TenantContext };

/** 400 for a tenant route reached without a tenant (none sent, or a route outside the tenant middleware's paths). */
export function tenantRequired(): BadRequestException {
  return new BadRequestException({ message: 'Tenant identification required', code: 'TENANT_REQUIRED' });
}
