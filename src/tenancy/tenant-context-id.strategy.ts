import type { EntityManager } from '@mikro-orm/postgresql';
import { ContextId, ContextIdStrategy, HostComponentInfo } from '@nestjs/core';
import type { TenantRequest } from './tenant-request';

/** What durable tenant providers receive as REQUEST: the tenant, not the HTTP request. */
export interface TenantPayload {
  tenantId: string;
  organizationId: string;
  /** The tenant ORM's global EntityManager: every call resolves to the current request's fork. */
  em: EntityManager;
}

/** The ContextId that keys a request's durable tenant subtree: its lease's, set by the tenant middleware. */
export function tenantContextOf(request: unknown): ContextId | undefined {
  return (request as TenantRequest).tenant?.lease.contextId;
}

/**
 * Makes durable providers durable per tenant: their DI subtree is built once per tenant ORM (keyed by the lease's
 * ContextId, which lives as long as the ORM, kept without connections included, and is dropped when it closes)
 * instead of once per request. Only requests the tenant
 * middleware has validated carry a tenant; any other request keeps its own per-request context.
 */
export class TenantContextIdStrategy implements ContextIdStrategy<TenantRequest> {
  attach(contextId: ContextId, request: TenantRequest) {
    const tenant = request.tenant;
    if (!tenant) return () => contextId;
    const payload: TenantPayload = {
      tenantId: tenant.lease.record.tenantId,
      organizationId: tenant.lease.record.organizationId,
      em: tenant.lease.orm.em,
    };
    return {
      resolve: (info: HostComponentInfo) => (info.isTreeDurable ? tenant.lease.contextId : contextId),
      payload,
    };
  }
}
