import { AppConfig } from '../config/app-config';
import { isValidTenantSlug } from './tenant-slug';

/**
 * Names of the databases this instance creates. All start with TENANT_DB_PREFIX; the template and the spares carry
 * a `_` right after the prefix, which no tenant id can contain, so they never collide with a tenant's database.
 */
export class TenantDatabaseNames {
  constructor(readonly prefix: string) {}

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

  /** A spare database, `<prefix>_spare_<id>` (`id` of a-z 0-9). */
  spare(id: string): string {
    if (!/^[a-z0-9]{1,32}$/.test(id)) throw new Error(`Invalid spare id ${JSON.stringify(id)}`);
    return `${this.prefix}_spare_${id}`;
  }
}
