import { Inject, Provider, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantPayload } from './tenant-context-id.strategy';

export const TENANT_ENTITY_MANAGER = Symbol('TENANT_ENTITY_MANAGER');
export const TENANT_PAYLOAD = Symbol('TENANT_PAYLOAD');

function tenantPayload(request: Partial<TenantPayload>): TenantPayload {
  if (!request.em) throw new Error('A tenant provider was resolved outside a tenant request');
  return request as TenantPayload;
}

/**
 * REQUEST-scoped, durable per tenant. The EntityManager is the tenant ORM's global one, never a fork: inside a
 * request its calls resolve to the fork the tenant middleware put in the RequestContext, so each request keeps
 * its own identity map while the DI subtree is shared by all of a tenant's requests.
 */
export const tenantProviders: Provider[] = [
  {
    provide: TENANT_PAYLOAD,
    scope: Scope.REQUEST,
    durable: true,
    inject: [REQUEST],
    useFactory: tenantPayload,
  },
  {
    provide: TENANT_ENTITY_MANAGER,
    scope: Scope.REQUEST,
    durable: true,
    inject: [TENANT_PAYLOAD],
    useFactory: (payload: TenantPayload): EntityManager => payload.em,
  },
];

export const InjectTenantEntityManager = (): ParameterDecorator => Inject(TENANT_ENTITY_MANAGER);
export const InjectTenant = (): ParameterDecorator => Inject(TENANT_PAYLOAD);
