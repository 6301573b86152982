import { AppConfig } from '../config/app-config';
import { isValidTenantSlug } from './tenant-slug';

/**
 * Names of the databases this instance creates. All start with TENANT_DB_PREFIX; the template carries a `_`
 * right after the prefix, which no tenant id can contain, so it never collides with a tenant's database.
 */
export class TenantDatabaseNames {
  constructor(private readonly prefix: string) {}

  static fromConfig(config: AppConfig): TenantDatabaseNames {
    return new TenantDatabaseNames(config.TENANT_DB_PREFIX);
  }

  forTenant(tenantId: string): string {
    if (!isValidTenantSlug(tenantId)) throw new Error(`Invalid tenant id ${JSON.stringify(tenantId)}`);
    return `${this.prefix}${tenantId}`;
  }

  get template(): string {
    return `${this.prefix}_template`;
  }
}
