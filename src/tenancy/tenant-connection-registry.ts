import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ContextId, ContextIdFactory } from '@nestjs/core';
import { performance } from 'node:perf_hooks';
import type { Knex } from '@mikro-orm/postgresql';
import { AppConfig } from '../config/app-config';
import { DatabaseServer } from '../database/database-server';
import { UnavailableError } from '../common/domain-errors';
import { describeError, isServerUnavailable } from '../common/error-text';
import { SemaphoreTimeoutError } from '../common/semaphore';
import { WaitQueue } from '../common/wait-queue';
import { LockWaitTimeoutError } from '../database/advisory-lock';
import { migrateToLatest } from '../database/migrate-to-latest';
import { TenantOrm, TenantOrmFactory } from './tenant-orm.factory';
import type { TenantRecord } from './tenant-registry';

/** Request counts are halved every TENANT_MAX_OPEN x this many requests, so the eviction order follows shifts. */
const AGING_REQUESTS_PER_SLOT = 100;
/**
 * After a tenant's opening fails, its requests are refused (503 with Retry-After) for this long, doubled at each
 * failure in a row up to LONGEST_OPENING_RETRY_MS; a failure that long after the previous refusals ended starts over.
 */
const FIRST_OPENING_RETRY_MS = 1_000;
const LONGEST_OPENING_RETRY_MS = 30_000;
/**
 * A tenant's ORM is replaced for a missing table or column (`schemaBehind`) at most once in this long: when its
 * migrations, checked again, were not the cause (a bug's query, an older process during a deploy that dropped a column
 * it reads), its requests fail as they would have, instead of each reopening the tenant.
 */
const SCHEMA_RECHECK_INTERVAL_MS = 30_000;

/** A tenant whose last opening failed. Times are `performance.now()` (monotonic: no wall-clock jump moves them). */
export interface FailedOpening {
  failures: number;
  /** How long its requests are refused after this failure: until `retryAt`, without an attempt. */
  retryMs: number;
  retryAt: number;
}

/** The record of a tenant's opening that failed at `now`, after `previous` (its last failure, if any). */
export function nextFailedOpening(previous: FailedOpening | undefined, now: number): FailedOpening {
  const failures = previous && !isStale(previous, now) ? previous.failures + 1 : 1;
  const retryMs = Math.min(LONGEST_OPENING_RETRY_MS, FIRST_OPENING_RETRY_MS * 2 ** (failures - 1));
  return { failures, retryMs, retryAt: now + retryMs };
}

/** A failure whose refusals ended LONGEST_OPENING_RETRY_MS ago or more: the next one starts the waits over. */
export function isStale(failed: FailedOpening, now: number): boolean {
  return now - failed.retryAt >= LONGEST_OPENING_RETRY_MS;
}

/**
 * Whether `record`, read no earlier than `previous` (see TenantRecord.readAt), names another database or organization
 * than it: an operator moved the tenant's database, or deleted the organization and its name was signed up again. An
 * entry's ORM a record supersedes is replaced; a request holding an older record than the entry's (read before the
 * change, or kept while it waited for a slot) is served by the entry.
 */
function supersedes(record: TenantRecord, previous: TenantRecord): boolean {
  return (
    record.readAt >= previous.readAt &&
    (record.databaseName !== previous.databaseName || record.organizationId !== previous.organizationId)
  );
}

/**
 * A tenant's ORM: open while the registry's `open` set holds it (it has a slot), else kept without connections; once
 * replaced, in `retiring` until its last request ends.
 */
class TenantEntry {
  leases = 0;
  /**
   * Set by an opening, which counts as a lease until the first request waiting for it has taken its own (or turned
   * the entry down, superseded by its record): no other opening can take the slot back (or the idle sweeper close
   * it) in between.
   */
  heldForOpening = false;
  lastUsed = Date.now();
  /** The pool's destruction after it lost its slot; a reconnection waits for it. */
  disconnecting: Promise<void> = Promise.resolve();
  closed = false;
  /** Set when a later record of the tenant names another database or organization; closed once unleased. */
  replaced = false;
  /** Keys the tenant's durable DI subtree; dropped with this entry, so a subtree never holds a closed ORM. */
  readonly contextId: ContextId = ContextIdFactory.create();

  constructor(
    readonly tenant: TenantRecord,
    readonly orm: TenantOrm,
  ) {}

  get tenantId(): string {
    return this.tenant.tenantId;
  }

  get knex(): Knex {
    return this.orm.em.getConnection().getKnex();
  }
}

/** A tenant ORM checked out for one request; `release()` when the request ends. */
export interface TenantLease {
  readonly tenantId: string;
  /** The tenant's record the ORM was opened for: its database and organization. */
  readonly record: TenantRecord;
  readonly orm: TenantOrm;
  readonly contextId: ContextId;
  release(): void;
}

export interface ConnectionRegistryStats {
  /** Tenant ORMs holding a slot (their pools may hold connections), replaced ones still in use included. */
  open: number;
  /** Tenant ORMs kept without connections. */
  kept: number;
  /** Requests served by an open tenant. */
  hits: number;
  /** Tenants given a slot: a new ORM or a kept one reconnected. */
  opens: number;
  /** Of the opens, those that reused a kept ORM and its DI subtree. */
  reopens: number;
  /** Slots taken from idle tenants for others. */
  evictions: number;
  /** Slots given up by tenants unused for TENANT_IDLE_CLOSE_MS. */
  idleCloses: number;
  /** Kept ORMs closed because more than TENANT_MAX_KEPT were kept. */
  dropped: number;
  /** Openings that failed for the tenant's own reason (a migration, a missing database), each refusing it a while. */
  failedOpenings: number;
  /** Requests refused without an attempt while their tenant's last opening had failed. */
  refused: number;
  /** ORMs replaced because their tenant's record named another database or organization. */
  replaced: number;
}

/**
 * Hands out one MikroORM instance per tenant database. At most TENANT_MAX_OPEN tenants hold a slot, i.e. a connection
 * pool capped at TENANT_POOL_MAX, so tenant connections never exceed their product. No request sends two queries at
 * once (a list's page and total are one statement, `findPage`), so a pool opens another connection only for two
 * requests of its tenant at once (also one whose client went away: it runs on, with its tenant's pool, until it ends
 * its response). A tenant is opened lazily (concurrent first requests share one opening). When all slots are taken, the
 * idle tenant with the fewest recent requests gives its slot up (the least recently used among equals; counts are
 * halved regularly), and when all are busy a request waits for a slot. Giving a slot up (also after
 * TENANT_IDLE_CLOSE_MS unused) destroys the pool only: the ORM and its durable DI subtree are kept, up to
 * TENANT_MAX_KEPT of them (least recently used dropped first), so reopening costs a connection but no ORM, subtree or
 * route handlers. A tenant whose opening failed is refused for a while (`refuseAfterFailure`), unless the failure was
 * the server's or a wait for a maintenance session. All closed on shutdown.
 */
@Injectable()
export class TenantConnectionRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(TenantConnectionRegistry.name);
  /**
   * Every tenant ORM, open or kept. Insertion order is recency order: an entry is re-inserted on every use, so the
   * first kept one is the one to drop.
   */
  private readonly entries = new Map<string, TenantEntry>();
  /** The tenants' current entries holding a slot (retiring ones hold theirs too). */
  private readonly open = new Set<TenantEntry>();
  /** Replaced entries still leased: out of `entries` and `open`, they keep their slot until they close. */
  private readonly retiring = new Set<TenantEntry>();
  /** Recent requests per tenant id, halved every agingPeriod requests (ids whose count drops below 1 removed). */
  private readonly requests = new Map<string, number>();
  private readonly agingPeriod: number;
  private requestsSinceAging = 0;
  /** Openings under way by tenant id, with the record each opens. */
  private readonly openings = new Map<string, { tenant: TenantRecord; opened: Promise<TenantEntry> }>();
  private readonly closings = new Set<Promise<void>>();
  /** Tenants this process has found at the latest migration, with the database: reopening it skips the check. */
  private readonly current = new Map<string, string>();
  /**
   * Tenants whose last opening failed, with the record it tried: one opening per FailedOpening.retryAt, not one per
   * request, until a record superseding that one comes.
   */
  private readonly failed = new Map<string, FailedOpening & { tenant: TenantRecord }>();
  /** When each tenant's ORM was last replaced for a missing table or column (`schemaBehind`). */
  private readonly schemaRechecks = new Map<string, number>();
  private readonly slotWaiters = new WaitQueue();
  private reserved = 0;
  /** Pools being destroyed: they hold a slot until their connections are gone. */
  private draining = 0;
  private shuttingDown = false;
  private readonly sweeper: NodeJS.Timeout;
  private readonly counters = {
    hits: 0,
    opens: 0,
    reopens: 0,
    evictions: 0,
    idleCloses: 0,
    dropped: 0,
    failedOpenings: 0,
    refused: 0,
    replaced: 0,
  };

  constructor(
    private readonly config: AppConfig,
    private readonly server: DatabaseServer,
    private readonly factory: TenantOrmFactory,
  ) {
    this.agingPeriod = AGING_REQUESTS_PER_SLOT * config.TENANT_MAX_OPEN;
    const every = Math.max(50, Math.min(config.TENANT_IDLE_CLOSE_MS / 2, 30_000));
    this.sweeper = setInterval(() => void this.closeIdle(), every);
    this.sweeper.unref();
  }

  /**
   * A lease on the tenant's ORM, opening it when it holds no slot. While its last opening's failure refuses it
   * (`refuseAfterFailure`), it throws without an attempt, unless `evenAfterFailure` (the caller has just checked its
   * database).
   */
  async acquire(tenant: TenantRecord, { evenAfterFailure = false } = {}): Promise<TenantLease> {
    for (;;) {
      if (this.shuttingDown) throw new UnavailableError('SHUTTING_DOWN', 'The service is shutting down');
      const leased = this.leaseIfOpen(tenant);
      if (leased) return leased;
      let opening = this.openings.get(tenant.tenantId);
      if (!opening) {
        if (!evenAfterFailure) this.refuseAfterFailure(tenant);
        opening = {
          tenant,
          opened: this.connect(tenant).finally(() => this.openings.delete(tenant.tenantId)),
        };
        this.openings.set(tenant.tenantId, opening);
      }
      // An opening for another record of the tenant (shared by tenant id) is not this request's: it loops when that
      // opening succeeded, and when it failed for its record's own reason (recorded against that record: a database
      // since moved is not this one's); a failure that is not the record's (the server, a slot, a session) is.
      const openingFor = opening.tenant;
      const opened = await opening.opened.catch((error: unknown) => {
        if (supersedes(tenant, openingFor) && this.failed.get(tenant.tenantId)?.tenant === openingFor) {
          return undefined;
        }
        throw error;
      });
      if (!opened) continue;
      const lease =
        this.open.has(opened) && !supersedes(tenant, opened.tenant) ? this.lease(opened) : undefined;
      if (opened.heldForOpening) {
        opened.heldForOpening = false;
        if (--opened.leases === 0) this.unleased(opened);
      }
      if (lease) return lease;
    }
  }

  /**
   * A lease on an open tenant ORM without waiting, or undefined when it is not open (then `acquire`): the common
   * case of a request costs no promise. An ORM the record supersedes (`supersedes`) is replaced:
   * undefined, and it is closed once its requests have ended.
   */
  leaseIfOpen(tenant: TenantRecord): TenantLease | undefined {
    const entry = this.shuttingDown ? undefined : this.entries.get(tenant.tenantId);
    if (!entry || !this.open.has(entry)) return undefined;
    if (supersedes(tenant, entry.tenant)) {
      this.replace(entry, tenant);
      return undefined;
    }
    this.counters.hits++;
    return this.lease(entry);
  }

  /**
   * Closes a tenant's current ORM now, even while requests hold it (tests force a reopen with it); its next opening,
   * at once even after a failed one, builds a new ORM and DI subtree and checks its migrations again. A replaced ORM
   * still in use is left to close when its requests end.
   */
  async evict(tenantId: string): Promise<void> {
    this.current.delete(tenantId);
    this.failed.delete(tenantId);
    const entry = this.entries.get(tenantId);
    if (entry) await this.close(entry);
  }

  stats(): ConnectionRegistryStats {
    return {
      open: this.open.size + this.retiring.size,
      kept: this.entries.size - this.open.size,
      ...this.counters,
    };
  }

  /** Whether the tenant's current ORM holds a slot. */
  isOpen(tenantId: string): boolean {
    const entry = this.entries.get(tenantId);
    return entry !== undefined && this.open.has(entry);
  }

  /** Whether the tenant's ORM exists, open or kept. */
  isKept(tenantId: string): boolean {
    return this.entries.has(tenantId);
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.openings.values()].map(({ opened }) => opened));
    const all = [...this.entries.values(), ...this.retiring];
    await Promise.all(all.map((entry) => this.close(entry)));
    await Promise.all([...this.closings]);
    this.logger.log(`Shutdown: closed ${all.length} tenant ORM(s)`);
  }

  private lease(entry: TenantEntry): TenantLease {
    entry.leases++;
    entry.lastUsed = Date.now();
    this.entries.delete(entry.tenantId);
    this.entries.set(entry.tenantId, entry);
    this.count(entry.tenantId);
    let released = false;
    return {
      tenantId: entry.tenantId,
      record: entry.tenant,
      orm: entry.orm,
      contextId: entry.contextId,
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        entry.lastUsed = Date.now();
        if (entry.leases === 0) this.unleased(entry);
      },
    };
  }

  /** An entry's last lease has ended: its slot can be taken, or, replaced, it is closed. */
  private unleased(entry: TenantEntry): void {
    if (!entry.replaced) {
      this.slotWaiters.wakeOne();
      return;
    }
    void this.close(entry).catch((error: unknown) =>
      this.logger.warn(`Closing replaced tenant ${entry.tenantId} failed: ${describeError(error)}`),
    );
  }

  /**
   * Stops handing out an entry the tenant's record supersedes: the next opening builds a new ORM and DI subtree on the
   * record's database and checks its migrations. Requests holding the old one finish on it, which keeps its slot
   * meanwhile; it is closed when the last of them ends (at once when none does).
   */
  private replace(entry: TenantEntry, tenant: TenantRecord): void {
    this.logger.warn(
      `Tenant ${tenant.tenantId} now names database ${tenant.databaseName} of organization ` +
        `${tenant.organizationId} (was ${entry.tenant.databaseName} of ${entry.tenant.organizationId}): ` +
        'its ORM is replaced',
    );
    this.retire(entry);
  }

  /**
   * A request on the lease's ORM met a table or column its database lacks (42P01, 42703): the database was replaced
   * under the same name (restored from an older backup, say) after this process had found it at the latest
   * migration, which a reopening takes as known. Its ORM is retired as a replaced one is, and the next opening checks
   * its migrations again, bringing the database up to date; at most once per SCHEMA_RECHECK_INTERVAL_MS. Whether it
   * was (or a concurrent request's had it already): if not, the error is the request's own.
   */
  schemaBehind(lease: TenantLease): boolean {
    const entry = this.entries.get(lease.tenantId);
    if (entry?.orm !== lease.orm) return true;
    const now = performance.now();
    const last = this.schemaRechecks.get(lease.tenantId);
    if (last !== undefined && now - last < SCHEMA_RECHECK_INTERVAL_MS) return false;
    this.schemaRechecks.set(lease.tenantId, now);
    this.logger.warn(
      `Tenant ${lease.tenantId}'s database ${entry.tenant.databaseName} lacks a table or column of its ` +
        'migrations: its ORM is replaced and its migrations checked again',
    );
    this.retire(entry);
    return true;
  }

  /** Takes the entry out of the tenant's place (`replace`): closed once no request holds it. */
  private retire(entry: TenantEntry): void {
    this.counters.replaced++;
    entry.replaced = true;
    this.entries.delete(entry.tenantId);
    this.current.delete(entry.tenantId);
    if (entry.leases === 0) this.unleased(entry);
    else if (this.open.delete(entry)) this.retiring.add(entry);
  }

  private count(tenantId: string): void {
    this.requests.set(tenantId, (this.requests.get(tenantId) ?? 0) + 1);
    if (++this.requestsSinceAging < this.agingPeriod) return;
    this.requestsSinceAging = 0;
    for (const [id, requests] of this.requests) {
      if (requests < 2) this.requests.delete(id);
      else this.requests.set(id, requests >> 1);
    }
  }

  /** Gives the tenant a slot: reconnects its kept ORM, or builds one (checking its migrations once). */
  private async connect(tenant: TenantRecord): Promise<TenantEntry> {
    await this.reserveSlot();
    try {
      let entry = this.entries.get(tenant.tenantId);
      if (entry && supersedes(tenant, entry.tenant)) {
        this.replace(entry, tenant);
        entry = undefined;
      }
      await entry?.disconnecting;
      if (entry && !entry.closed) {
        entry.knex.initialize();
        this.counters.reopens++;
      } else {
        entry = new TenantEntry(tenant, await this.build(tenant));
        this.entries.set(tenant.tenantId, entry);
      }
      entry.heldForOpening = true;
      entry.leases++;
      entry.lastUsed = Date.now();
      this.open.add(entry);
      this.counters.opens++;
      return entry;
    } finally {
      this.reserved--;
      if (this.hasFreeSlot()) this.slotWaiters.wakeOne();
      this.dropKeptBeyondLimit();
    }
  }

  private async build(tenant: TenantRecord): Promise<TenantOrm> {
    const orm = this.factory.create(tenant.databaseName, `tenant:${tenant.tenantId}`);
    try {
      if (this.current.get(tenant.tenantId) !== tenant.databaseName) {
        const applied = await migrateToLatest(
          orm,
          (work) => this.server.withAdminClient(work, this.config.TENANT_SLOT_WAIT_MS),
          this.config.TENANT_SLOT_WAIT_MS,
        );
        if (applied.length > 0) this.logger.log(`Migrated tenant ${tenant.tenantId}: ${applied.join(', ')}`);
        this.current.set(tenant.tenantId, tenant.databaseName);
      }
      this.failed.delete(tenant.tenantId);
      return orm;
    } catch (error) {
      await orm.close(true).catch(() => undefined);
      // No maintenance session within TENANT_SLOT_WAIT_MS, another session's migration of the tenant still under
      // way after that long, or a server that is down or full, says nothing wrong of the tenant: the next request
      // tries at once.
      if (
        error instanceof SemaphoreTimeoutError ||
        error instanceof LockWaitTimeoutError ||
        isServerUnavailable(error)
      ) {
        this.logger.error(`Opening tenant ${tenant.tenantId} failed: ${describeError(error)}`);
        throw tenantUnavailable(tenant.tenantId);
      }
      const retryMs = this.recordFailure(tenant);
      this.logger.error(
        `Opening tenant ${tenant.tenantId} failed: ${describeError(error)}; its requests are refused for ${retryMs} ms`,
      );
      throw tenantUnavailable(tenant.tenantId, retryMs);
    }
  }

  /**
   * Throws until the `retryAt` of the tenant's last failed opening, so that a tenant that cannot be opened (a failing
   * migration, a missing database) costs one attempt per wait, not a slot, a connection and a maintenance session per
   * request. A record superseding the failed one (an operator restored the database elsewhere) is tried at once; an
   * older one (from before a move whose opening failed) is refused too.
   */
  private refuseAfterFailure(tenant: TenantRecord): void {
    const failed = this.failed.get(tenant.tenantId);
    if (!failed || supersedes(tenant, failed.tenant)) return;
    const waitMs = failed.retryAt - performance.now();
    if (waitMs <= 0) return;
    this.counters.refused++;
    throw tenantUnavailable(tenant.tenantId, waitMs);
  }

  /** Counts a failed opening; returns how long the tenant's requests are now refused. */
  private recordFailure(tenant: TenantRecord): number {
    const previous = this.failed.get(tenant.tenantId);
    const failed = nextFailedOpening(
      previous && !supersedes(tenant, previous.tenant) ? previous : undefined,
      performance.now(),
    );
    this.failed.set(tenant.tenantId, { ...failed, tenant });
    this.counters.failedOpenings++;
    return failed.retryMs;
  }

  private hasFreeSlot(): boolean {
    return this.open.size + this.retiring.size + this.reserved + this.draining < this.config.TENANT_MAX_OPEN;
  }

  /**
   * Takes one of TENANT_MAX_OPEN slots, taking it from an idle tenant (see `victim`) when all are taken; when every
   * open tenant is busy, waits up to TENANT_SLOT_WAIT_MS for one to become idle.
   */
  private async reserveSlot(): Promise<void> {
    const deadline = Date.now() + this.config.TENANT_SLOT_WAIT_MS;
    for (;;) {
      if (this.hasFreeSlot()) {
        this.reserved++;
        return;
      }
      const victim = this.victim();
      if (victim) {
        this.reserved++;
        this.counters.evictions++;
        await this.disconnect(victim);
        return;
      }
      const wait = deadline - Date.now();
      if (wait <= 0) {
        throw new UnavailableError('TENANT_CAPACITY', 'Too many tenants are busy right now; retry shortly');
      }
      await this.slotWaiters.wait(wait);
    }
  }

  /** The idle open tenant with the fewest recent requests, the least recently used among equals. */
  private victim(): TenantEntry | undefined {
    let victim: TenantEntry | undefined;
    let fewest = Infinity;
    for (const entry of this.open) {
      if (entry.leases > 0) continue;
      const requests = this.requests.get(entry.tenantId) ?? 0;
      if (requests < fewest || (requests === fewest && victim && entry.lastUsed < victim.lastUsed)) {
        victim = entry;
        fewest = requests;
      }
    }
    return victim;
  }

  private async closeIdle(): Promise<void> {
    const now = performance.now();
    for (const [tenantId, failed] of this.failed) if (isStale(failed, now)) this.failed.delete(tenantId);
    const cutoff = Date.now() - this.config.TENANT_IDLE_CLOSE_MS;
    const isIdle = (entry: TenantEntry) =>
      this.open.has(entry) && entry.leases === 0 && entry.lastUsed < cutoff;
    for (const entry of [...this.open].filter(isIdle)) {
      // Closing the previous one awaited: this one may have been leased since.
      if (!isIdle(entry)) continue;
      this.counters.idleCloses++;
      await this.disconnect(entry);
    }
    this.dropKeptBeyondLimit();
  }

  /**
   * Takes the slot from an idle tenant: its pool is destroyed, its ORM kept. Should the pool fail to close, the ORM
   * is dropped instead (knex keeps a pool it failed to destroy, so it could not be reconnected).
   */
  private async disconnect(entry: TenantEntry): Promise<void> {
    this.open.delete(entry);
    entry.disconnecting = this.drain(
      entry.knex.destroy().catch((error: unknown) => {
        this.logger.warn(`Closing the pool of tenant ${entry.tenantId} failed: ${describeError(error)}`);
        entry.closed = true;
        if (this.entries.get(entry.tenantId) === entry) this.entries.delete(entry.tenantId);
      }),
    );
    await entry.disconnecting;
  }

  /** Counts a pool being destroyed against the slots until it is gone, then wakes a waiter. */
  private drain(destroying: Promise<void>): Promise<void> {
    this.draining++;
    return this.track(
      destroying.finally(() => {
        this.draining--;
        this.slotWaiters.wakeOne();
      }),
    );
  }

  /** Closes the least recently used kept ORMs beyond TENANT_MAX_KEPT. */
  private dropKeptBeyondLimit(): void {
    let excess = this.entries.size - this.open.size - this.config.TENANT_MAX_KEPT;
    for (const entry of this.entries.values()) {
      if (excess <= 0) return;
      if (this.open.has(entry) || this.openings.has(entry.tenantId)) continue;
      excess--;
      this.counters.dropped++;
      void this.close(entry).catch((error: unknown) =>
        this.logger.warn(`Closing kept tenant ${entry.tenantId} failed: ${describeError(error)}`),
      );
    }
  }

  /** Removes the entry at once (new requests build a fresh one), then closes its ORM. */
  private async close(entry: TenantEntry): Promise<void> {
    if (entry.closed) return;
    const held = this.open.delete(entry) || this.retiring.delete(entry);
    entry.closed = true;
    if (this.entries.get(entry.tenantId) === entry) this.entries.delete(entry.tenantId);
    const closing = entry.disconnecting.then(() => entry.orm.close(this.shuttingDown));
    await (held ? this.drain(closing) : this.track(closing));
  }

  /** Shutdown waits for every pool being destroyed. */
  private track(closing: Promise<void>): Promise<void> {
    const tracked = closing.finally(() => this.closings.delete(tracked));
    this.closings.add(tracked);
    return tracked;
  }
}

/** 503 TENANT_UNAVAILABLE; with `waitMs`, the tenant is refused that long (Retry-After). */
function tenantUnavailable(tenantId: string, waitMs?: number): UnavailableError {
  if (waitMs === undefined) {
    return new UnavailableError('TENANT_UNAVAILABLE', `Tenant ${tenantId} is temporarily unavailable`);
  }
  const seconds = Math.ceil(waitMs / 1000);
  return new UnavailableError(
    'TENANT_UNAVAILABLE',
    `Tenant ${tenantId} is temporarily unavailable: its database could not be opened; retry in ${seconds} s`,
    seconds,
  );
}
