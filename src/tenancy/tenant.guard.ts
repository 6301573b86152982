import { BadRequestException, CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { TenantRequest } from './tenant-request';

/**
 * Fails closed: a tenant route reached without the tenant middleware having validated the tenant (a route
 * outside the middleware's paths) is refused instead of running without a tenant database.
 */
@Injectable()
export class TenantGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<TenantRequest>();
    if (!request.tenant) {
      throw new BadRequestException({ message: 'Tenant identification required', code: 'TENANT_REQUIRED' });
    }
    return true;
  }
}
