import { BadRequestException, Injectable, NestMiddleware, NotFoundException } from '@nestjs/common';
import { RequestContext } from '@mikro-orm/core';
import type { NextFunction, Response } from 'express';
import parseurl from 'parseurl';
import { TenantCredentials } from '../auth/tenant-credentials';
import { AppConfig } from '../config/app-config';
import { UnavailableError } from '../common/domain-errors';
import { TenantConnectionRegistry, TenantLease } from './tenant-connection-registry';
import { TenantRecord, TenantRegistry } from './tenant-registry';
import { TenantContext, TenantRequest, tenantRequired } from './tenant-request';
import { resolveTenantId } from './tenant-resolver';
import { isValidTenantSlug } from './tenant-slug';

/**
 * Runs before every tenant route: resolve the tenant id, validate its grammar, check the registry, check the
 * request's credentials (TenantCredentials: nothing is opened for a request that cannot be admitted), lease the
 * tenant's ORM, and run the rest of the request in a RequestContext holding a fresh EntityManager fork bound to
 * the tenant database. Nothing here creates a database.
 */
@Injectable()
export class TenantContextMiddleware implements NestMiddleware {
  constructor(
    private readonly config: AppConfig,
    private readonly registry: TenantRegistry,
    private readonly connections: TenantConnectionRegistry,
    private readonly credentials: TenantCredentials,
  ) {}

  /**
   * Synchronous when the registry answer is cached and the tenant's ORM is open (the common case), so a warm
   * request awaits nothing here; otherwise it returns the promise of the lookup or the opening.
   */
  use(req: TenantRequest, res: Response, next: NextFunction): void | Promise<void> {
    const baseDomain = this.config.TENANT_BASE_DOMAIN;
    const tenantId = resolveTenantId(
      req.headers,
      baseDomain,
      baseDomain ? parseurl.original(req)?.host : undefined,
    );
    if (tenantId === undefined) {
      throw tenantRequired();
    }
    if (!isValidTenantSlug(tenantId)) {
      throw new BadRequestException({
        message: 'Malformed tenant id: use 1-48 lowercase letters, digits and single dashes',
        code: 'TENANT_ID_MALFORMED',
      });
    }
    const cached = this.registry.cached(tenantId);
    if (cached === undefined) {
      return this.registry.find(tenantId).then((record) => this.enter(tenantId, record, req, res, next));
    }
    return this.enter(tenantId, cached, req, res, next);
  }

  private enter(
    tenantId: string,
    record: TenantRecord | null,
    req: TenantRequest,
    res: Response,
    next: NextFunction,
  ): void | Promise<void> {
    if (!record) {
      throw new NotFoundException({ message: `Unknown tenant ${tenantId}`, code: 'TENANT_NOT_FOUND' });
    }
    if (record.status !== 'active') {
      throw new UnavailableError(
        record.status === 'provisioning' ? 'TENANT_PROVISIONING' : 'TENANT_PROVISIONING_FAILED',
        record.status === 'provisioning'
          ? `Tenant ${tenantId} is still being provisioned; retry shortly`
          : `Tenant ${tenantId} is not available: its provisioning failed; repeating its sign-up finishes it`,
      );
    }
    const credentials = this.credentials.check(req, tenantId);
    const lease = this.connections.leaseIfOpen(record);
    if (lease) return this.run({ credentials, lease }, req, res, next);
    return this.connections
      .acquire(record)
      .then((opened) => this.run({ credentials, lease: opened }, req, res, next));
  }

  private run(tenant: TenantContext, req: TenantRequest, res: Response, next: NextFunction): void {
    const { lease } = tenant;
    holdUntilEnded(res, lease);
    req.tenant = tenant;
    RequestContext.create(lease.orm.em, next);
  }
}

/**
 * Holds a request's lease until the request ends its response, as Nest does once the handler or the exception filter
 * has run, not until its client goes away: that does not stop the guards and the handler, whose queries still need the
 * tenant's pool (released then, the lease let another tenant take the slot and destroy the pool under them: a write
 * lost, a 500). The common case costs one 'close' listener: a response emits 'close' once, when it is done or when its
 * client left (`closed` already true if that happened while the lookup or the opening was awaited); only then, or for a
 * pipelined response still queued behind another (no socket yet, or one already destroyed: were its connection to drop,
 * it would emit no 'close' at all), does ending the response release the lease. Wrapping `end` on every response
 * instead served warm's load ~12 % slower at ~18 % more CPU per request (bench/README.md). A response whose client left
 * after its headers went out (a stream) releases it on 'close', as nothing will end it then; a handler that never ends
 * its response (an Observable Nest unsubscribes from when its client leaves) would keep it, and no route has one.
 */
function holdUntilEnded(res: Response, lease: TenantLease): void {
  if (!res.socket || res.socket.destroyed || res.closed) {
    releaseOnEnd(res, lease);
    return;
  }
  res.once('close', () => {
    if (res.writableEnded || res.headersSent) lease.release();
    else releaseOnEnd(res, lease);
  });
}

function releaseOnEnd(res: Response, lease: TenantLease): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.end = ((...args: unknown[]) => {
    lease.release();
    return end(...args);
  }) as Response['end'];
}
