import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { AppConfig } from '../config/app-config';
import { Organization, OrganizationStatus } from '../organizations/organization.entity';

/** What a tenant request needs to know about its organization. */
export interface TenantRecord {
  organizationId: string;
  tenantId: string;
  status: OrganizationStatus;
  databaseName: string;
  /**
   * When this process asked for the record (`performance.now()`, before its query was sent): of two records of a
   * tenant, the one asked for later reflects the control plane as of then or later, but for a lookup that waited for
   * a pool connection past a later one's while the row changed twice (the next lookup then corrects it).
   */
  readAt: number;
}

/** What the registry knows of an organization's tenant, as of now (the organization has just been read or written). */
export function tenantRecordOf(
  org: Pick<Organization, 'id' | 'tenantId' | 'status' | 'databaseName'>,
): TenantRecord {
  return {
    organizationId: org.id,
    tenantId: org.tenantId,
    status: org.status,
    databaseName: org.databaseName,
    readAt: performance.now(),
  };
}

/** Organizations' answers kept at most; the least recently requested go first. */
const MAX_CACHED_TENANTS = 10_000;
/**
 * "No such tenant" answers kept at most, apart from the organizations': requests for random well-formed ids (each a
 * control-plane query) then push out only each other, never a tenant's answer.
 */
const MAX_CACHED_UNKNOWN = 1_000;

export interface TenantRegistryStats {
  /** Whether the control plane's change notifications are heard (answers then live TENANT_CACHE_LISTEN_TTL_MS). */
  listening: boolean;
  /**
   * Answers held, expired ones included (replaced when looked up again; dropped by a change to their tenant or of
   * listening, the least recently requested first when MAX_CACHED_TENANTS organizations or MAX_CACHED_UNKNOWN
   * unknown ids are held).
   */
  cached: number;
}

interface CacheEntry {
  record: TenantRecord | null;
  expires: number;
}

/**
 * Cached lookups of the control-plane registry: tenant id -> organization, status and database. Every change to an
 * organization's row, by any process or by hand, invalidates its entry when the change commits, and a TRUNCATE every
 * entry, through the control plane's notifications (TenantChangeListener); while they are heard, entries live
 * TENANT_CACHE_LISTEN_TTL_MS, otherwise TENANT_CACHE_TTL_MS. Concurrent lookups of one tenant share one query.
 * Callers validate the tenant id's grammar first.
 */
@Injectable()
export class TenantRegistry {
  /** Organizations' answers and unknown ids', each in order of last request (a hit moves its entry last). */
  private readonly known = new Map<string, CacheEntry>();
  private readonly unknown = new Map<string, CacheEntry>();
  private readonly lookups = new Map<string, Promise<TenantRecord | null>>();
  private listening = false;

  constructor(
    private readonly em: EntityManager,
    private readonly config: AppConfig,
  ) {}

  /** The cached answer (null: known not to exist), or undefined when it must be looked up with `find`. */
  cached(tenantId: string): TenantRecord | null | undefined {
    const cache = this.known.has(tenantId) ? this.known : this.unknown;
    const cached = cache.get(tenantId);
    if (!cached || cached.expires <= Date.now()) return undefined;
    cache.delete(tenantId);
    cache.set(tenantId, cached);
    return cached.record;
  }

  async find(tenantId: string): Promise<TenantRecord | null> {
    const cached = this.cached(tenantId);
    if (cached !== undefined) return cached;
    let lookup = this.lookups.get(tenantId);
    if (!lookup) {
      // An invalidation meanwhile detaches the lookup (it may have read the row before the change): its answer
      // then goes to its callers only.
      const started = this.load(tenantId)
        .then((record) => {
          if (this.lookups.get(tenantId) === started) this.remember(tenantId, record);
          return record;
        })
        .finally(() => {
          if (this.lookups.get(tenantId) === started) this.lookups.delete(tenantId);
        });
      this.lookups.set(tenantId, started);
      lookup = started;
    }
    return lookup;
  }

  /**
   * Drops the tenant's answer. A lookup already under way may have read the row before the change: later requests
   * start their own, and its answer is not cached.
   */
  invalidate(tenantId: string): void {
    this.known.delete(tenantId);
    this.unknown.delete(tenantId);
    this.lookups.delete(tenantId);
  }

  /** Drops every answer, and detaches every lookup under way (see `invalidate`). */
  invalidateAll(): void {
    this.known.clear();
    this.unknown.clear();
    this.lookups.clear();
  }

  /**
   * Whether changes are being heard (TenantChangeListener). Either way every entry is dropped: before, the long
   * time-to-live was not in force; after, notifications may have been missed.
   */
  setListening(listening: boolean): void {
    this.listening = listening;
    this.invalidateAll();
  }

  stats(): TenantRegistryStats {
    return { listening: this.listening, cached: this.known.size + this.unknown.size };
  }

  /**
   * One indexed row, read without an EntityManager fork, query builder or entity: with 1,000 tenants under Zipf
   * traffic and a 5 s time-to-live about a quarter of the requests came here (bench/README.md).
   */
  private async load(tenantId: string): Promise<TenantRecord | null> {
    const readAt = performance.now();
    const [found] = await this.em.getConnection().execute<Omit<TenantRecord, 'readAt'>[]>(
      `SELECT id AS "organizationId", tenant_id AS "tenantId", status, database_name AS "databaseName"
         FROM organizations WHERE tenant_id = ?`,
      [tenantId],
    );
    return found ? { ...found, readAt } : null;
  }

  private remember(tenantId: string, record: TenantRecord | null): void {
    const ttl = this.listening ? this.config.TENANT_CACHE_LISTEN_TTL_MS : this.config.TENANT_CACHE_TTL_MS;
    if (ttl > 0) {
      this.known.delete(tenantId);
      this.unknown.delete(tenantId);
      const [cache, limit] = record ? [this.known, MAX_CACHED_TENANTS] : [this.unknown, MAX_CACHED_UNKNOWN];
      if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
      cache.set(tenantId, { record, expires: Date.now() + ttl });
    }
  }
}
