import type { Request } from 'express';
import type { TenantLease } from './tenant-connection-registry';
import type { TenantRecord } from './tenant-registry';

/** What the tenant middleware attaches to a request once the tenant is validated and its ORM leased. */
export interface TenantContext {
  record: TenantRecord;
  lease: TenantLease;
}

export type TenantRequest = Request & { tenant?: TenantContext };
