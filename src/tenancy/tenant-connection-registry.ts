import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ContextId, ContextIdFactory } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { DatabaseServer } from '../database/database-server';
import { UnavailableError } from '../common/domain-errors';
import { migrateToLatest } from '../database/migrate-to-latest';
import { TenantOrm, TenantOrmFactory } from './tenant-orm.factory';
import type { TenantRecord } from './tenant-registry';

/** How long a request waits for a free slot when every open tenant is busy. */
const SLOT_WAIT_MS = 10_000;

class OpenTenant {
  leases = 0;
  lastUsed = Date.now();
  closed = false;
  /** Keys the tenant's durable DI subtree; dropped with this entry, so a subtree never holds a closed ORM. */
  readonly contextId: ContextId = ContextIdFactory.create();

  constructor(
    readonly tenantId: string,
    readonly orm: TenantOrm,
  ) {}
}

/** A tenant ORM checked out for one request; `release()` when the request ends. */
export interface TenantLease {
  readonly tenantId: string;
  readonly orm: TenantOrm;
  readonly contextId: ContextId;
  release(): void;
}

export interface ConnectionRegistryStats {
  open: number;
  hits: number;
  opens: number;
  evictions: number;
  idleCloses: number;
}

/**
 * Hands out one MikroORM instance per tenant database: opened lazily (concurrent first requests share one
 * opening), at most TENANT_MAX_OPEN at once (the least recently used idle one is closed to make room; when all are
 * busy a request waits for a slot), closed after TENANT_IDLE_CLOSE_MS unused, all closed on shutdown. With every
 * pool capped at TENANT_POOL_MAX, tenant connections never exceed TENANT_MAX_OPEN x TENANT_POOL_MAX.
 */
@Injectable()
export class TenantConnectionRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(TenantConnectionRegistry.name);
  /** Insertion order is recency order: an entry is re-inserted on every use, so the first idle one is the LRU. */
  private readonly entries = new Map<string, OpenTenant>();
  private readonly openings = new Map<string, Promise<OpenTenant>>();
  private readonly closings = new Set<Promise<void>>();
  /** Tenants this process has found at the latest migration: reopening them skips the check (one query). */
  private readonly current = new Set<string>();
  private readonly slotWaiters: Array<() => void> = [];
  private reserved = 0;
  private shuttingDown = false;
  private readonly sweeper: NodeJS.Timeout;
  private readonly counters = { hits: 0, opens: 0, evictions: 0, idleCloses: 0 };

  constructor(
    private readonly config: AppConfig,
    private readonly server: DatabaseServer,
    private readonly factory: TenantOrmFactory,
  ) {
    const every = Math.max(50, Math.min(config.TENANT_IDLE_CLOSE_MS / 2, 30_000));
    this.sweeper = setInterval(() => void this.closeIdle(), every);
    this.sweeper.unref();
  }

  async acquire(tenant: TenantRecord): Promise<TenantLease> {
    for (;;) {
      if (this.shuttingDown) throw new UnavailableError('SHUTTING_DOWN', 'The service is shutting down');
      const entry = this.entries.get(tenant.tenantId);
      if (entry) {
        this.counters.hits++;
        return this.lease(entry);
      }
      let opening = this.openings.get(tenant.tenantId);
      if (!opening) {
        opening = this.open(tenant).finally(() => this.openings.delete(tenant.tenantId));
        this.openings.set(tenant.tenantId, opening);
      }
      const opened = await opening;
      if (!opened.closed) return this.lease(opened);
    }
  }

  /**
   * A lease on an open tenant ORM without waiting, or undefined when it is not open (then `acquire`): the common
   * case of a request costs no promise.
   */
  leaseIfOpen(tenantId: string): TenantLease | undefined {
    const entry = this.shuttingDown ? undefined : this.entries.get(tenantId);
    if (!entry) return undefined;
    this.counters.hits++;
    return this.lease(entry);
  }

  /**
   * Closes a tenant's ORM now, even while requests hold it (tests force a reopen with it); its next opening checks
   * its migrations again.
   */
  async evict(tenantId: string): Promise<void> {
    this.current.delete(tenantId);
    const entry = this.entries.get(tenantId);
    if (entry) await this.close(entry);
  }

  stats(): ConnectionRegistryStats {
    return { open: this.entries.size, ...this.counters };
  }

  isOpen(tenantId: string): boolean {
    return this.entries.has(tenantId);
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.openings.values()]);
    const open = [...this.entries.values()];
    await Promise.all(open.map((entry) => this.close(entry)));
    await Promise.all([...this.closings]);
    this.logger.log(`Shutdown: closed ${open.length} open tenant database pool(s)`);
  }

  private lease(entry: OpenTenant): TenantLease {
    entry.leases++;
    entry.lastUsed = Date.now();
    this.entries.delete(entry.tenantId);
    this.entries.set(entry.tenantId, entry);
    let released = false;
    return {
      tenantId: entry.tenantId,
      orm: entry.orm,
      contextId: entry.contextId,
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        entry.lastUsed = Date.now();
        if (entry.leases === 0) this.slotWaiters.shift()?.();
      },
    };
  }

  private async open(tenant: TenantRecord): Promise<OpenTenant> {
    await this.reserveSlot();
    try {
      const orm = this.factory.create(tenant.databaseName, `tenant:${tenant.tenantId}`);
      try {
        if (!this.current.has(tenant.tenantId)) {
          const applied = await migrateToLatest(orm, () => this.server.adminClient());
          if (applied.length > 0)
            this.logger.log(`Migrated tenant ${tenant.tenantId}: ${applied.join(', ')}`);
          this.current.add(tenant.tenantId);
        }
      } catch (error) {
        await orm.close(true);
        this.logger.error(`Opening tenant ${tenant.tenantId} failed: ${String(error)}`);
        throw new UnavailableError(
          'TENANT_UNAVAILABLE',
          `Tenant ${tenant.tenantId} is temporarily unavailable`,
        );
      }
      const entry = new OpenTenant(tenant.tenantId, orm);
      this.entries.set(tenant.tenantId, entry);
      this.counters.opens++;
      return entry;
    } finally {
      this.reserved--;
      if (this.entries.size + this.reserved < this.config.TENANT_MAX_OPEN) this.slotWaiters.shift()?.();
    }
  }

  /** Takes one of TENANT_MAX_OPEN slots, evicting the least recently used idle tenant when all are taken. */
  private async reserveSlot(): Promise<void> {
    const deadline = Date.now() + SLOT_WAIT_MS;
    for (;;) {
      if (this.entries.size + this.reserved < this.config.TENANT_MAX_OPEN) {
        this.reserved++;
        return;
      }
      const victim = [...this.entries.values()].find((entry) => entry.leases === 0);
      if (victim) {
        this.reserved++;
        this.counters.evictions++;
        try {
          await this.close(victim);
        } catch (error) {
          this.reserved--;
          throw error;
        }
        return;
      }
      const wait = deadline - Date.now();
      if (wait <= 0) {
        throw new UnavailableError('TENANT_CAPACITY', 'Too many tenants are busy right now; retry shortly');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.slotWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private async closeIdle(): Promise<void> {
    const cutoff = Date.now() - this.config.TENANT_IDLE_CLOSE_MS;
    const isIdle = (entry: OpenTenant) => !entry.closed && entry.leases === 0 && entry.lastUsed < cutoff;
    for (const entry of [...this.entries.values()].filter(isIdle)) {
      // Closing the previous one awaited: this one may have been leased since.
      if (!isIdle(entry)) continue;
      this.counters.idleCloses++;
      await this.close(entry).catch((error: unknown) =>
        this.logger.warn(`Closing idle tenant ${entry.tenantId} failed: ${String(error)}`),
      );
    }
  }

  /** Removes the entry at once (new requests open a fresh one), then closes its pool. */
  private async close(entry: OpenTenant): Promise<void> {
    if (entry.closed) return;
    entry.closed = true;
    this.entries.delete(entry.tenantId);
    const closing = entry.orm.close(this.shuttingDown).finally(() => this.closings.delete(closing));
    this.closings.add(closing);
    await closing;
    this.slotWaiters.shift()?.();
  }
}
