import { EntityManager, LockMode } from '@mikro-orm/postgresql';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { describeError } from '../common/error-text';
import { AppConfig } from '../config/app-config';
import { lockKey, tryAdvisoryLock } from '../database/advisory-lock';
import { DatabaseServer } from '../database/database-server';
import { quoteIdent } from '../database/sql-identifiers';
import { SpareDatabase } from './spare-database.entity';
import { TenantDatabaseNames } from './tenant-database-names';
import { TenantOrmFactory } from './tenant-orm.factory';
import { TenantTemplate } from './tenant-template';

/** PostgreSQL's invalid_catalog_name: the database does not exist. */
const MISSING_DATABASE = '3D000';
/** A fill that failed, or found another process preparing spares, is tried again after this long. */
const RETRY_MS = 5_000;

export interface SparePoolStats {
  target: number;
  ready: number;
}

/**
 * TENANT_SPARE_POOL databases cloned from the template ahead of time, so a sign-up renames one instead of cloning
 * (`ALTER DATABASE ... RENAME TO ...`). The control plane's `spare_databases` table is the pool: a claim locks a
 * ready row with `FOR UPDATE SKIP LOCKED`, renames the database and deletes the row in one transaction, so
 * concurrent sign-ups, in any number of processes, never get the same spare. Filling and refreshing take an
 * advisory lock per prefix, so one process at a time prepares spares, and a row left unprepared by a crashed
 * process is found and dropped under that lock. Every fill migrates the spares behind this process's latest tenant
 * migration (another process of an older release, during a rolling deploy, still makes them); one at a migration
 * this release does not have (a newer release's) is left alone by refills, as that release claims it, and dropped at
 * start: a start means a rollback, after which nothing would claim it, or a process of the older release restarted
 * during a deploy, whose drop the newer release's refills make up for. (Spares that processes of the newer release
 * still relabel during a rollback wait for the next start.) At start, those beyond TENANT_SPARE_POOL (lowered, or 0)
 * are dropped too. A fill that fails or finds another process preparing spares tries again RETRY_MS later (a
 * start's, with what a start does): that process may have counted the pool before the claim that asked for it.
 */
@Injectable()
export class TenantSparePool implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TenantSparePool.name);
  private readonly background = new Set<Promise<void>>();
  private refilling?: Promise<void>;
  private refillAgain = false;
  /** A start-up fill (its retry) asked for while another fill ran: the next round does what a start does. */
  private startPending = false;
  private stopping = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly server: DatabaseServer,
    private readonly names: TenantDatabaseNames,
    private readonly factory: TenantOrmFactory,
    private readonly template: TenantTemplate,
    private readonly em: EntityManager,
  ) {}

  private get latest(): string {
    return this.factory.latestMigration;
  }

  onApplicationBootstrap(): void {
    // Also with the pool off: spares left from a larger TENANT_SPARE_POOL are dropped.
    this.run(() => this.fill(true));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retry);
    await this.settled();
  }

  /** Resolves when the background work started so far (start-up refresh, refills) has finished. */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  /**
   * Renames a ready spare to `databaseName`; false when the pool is off or empty (the caller clones the template).
   * A claimed spare is at the latest tenant migration. The pool refills in the background.
   */
  async claim(databaseName: string): Promise<boolean> {
    if (this.config.TENANT_SPARE_POOL === 0) return false;
    let missing: string | undefined;
    const claimed = await this.em
      .fork()
      .transactional(async (em) => {
        const spare = await em.findOne(
          SpareDatabase,
          { migratedTo: this.latest },
          { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE, orderBy: { createdAt: 'asc' } },
        );
        if (!spare) return false;
        missing = spare.name;
        await em.execute(`ALTER DATABASE ${quoteIdent(spare.name)} RENAME TO ${quoteIdent(databaseName)}`);
        missing = undefined;
        em.remove(spare);
        return true;
      })
      .catch(async (error: unknown) => {
        this.logger.warn(`Claiming a spare database failed, cloning the template: ${describeError(error)}`);
        if (missing && (error as { code?: string }).code === MISSING_DATABASE) {
          await this.em.fork().nativeDelete(SpareDatabase, { name: missing });
        }
        return false;
      });
    this.run(() => this.fill(false));
    return claimed;
  }

  async stats(): Promise<SparePoolStats> {
    const ready = await this.em.fork().count(SpareDatabase, { migratedTo: this.latest });
    return { target: this.config.TENANT_SPARE_POOL, ready };
  }

  private run(work: () => Promise<void>): void {
    if (this.stopping) return;
    const task = work().catch((error: unknown) =>
      this.logger.error(`Preparing spare databases failed: ${describeError(error)}`),
    );
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
  }

  /**
   * One fill at a time per process (a claim during a fill makes it go round once more); across processes, whoever
   * holds the prefix's lock fills.
   */
  private fill(atStart: boolean): Promise<void> {
    this.startPending ||= atStart;
    if (this.refilling) {
      this.refillAgain = true;
      return this.refilling;
    }
    this.refilling = (async () => {
      do {
        this.refillAgain = false;
        const start = this.startPending;
        this.startPending = false;
        let done = false;
        try {
          done = await this.fillLocked(start);
        } finally {
          // A round that failed or found the lock taken is tried again (a start's is still to do); one that did its
          // work makes a retry asked for by an earlier round needless.
          clearTimeout(this.retry);
          if (!done && !this.stopping) {
            this.startPending ||= start;
            this.retry = setTimeout(() => this.run(() => this.fill(false)), RETRY_MS).unref();
          }
        }
      } while (this.refillAgain && !this.stopping);
    })().finally(() => (this.refilling = undefined));
    return this.refilling;
  }

  /** One fill under the prefix's lock; false when another process holds it. */
  private async fillLocked(atStart: boolean): Promise<boolean> {
    const target = this.config.TENANT_SPARE_POOL;
    if (target > 0) await this.template.ensure();
    return this.server.withAdminClient(async (client) => {
      if (!(await tryAdvisoryLock(client, lockKey(`spares:${this.names.prefix}`)))) return false;
      const spares = await this.em.fork().find(SpareDatabase, {}, { orderBy: { createdAt: 'asc' } });
      let kept = 0;
      for (const spare of spares) {
        if (spare.migratedTo === null) {
          await this.discard(client, spare.name, 'half-prepared');
        } else if (!this.factory.appliesMigration(spare.migratedTo)) {
          // A newer release's, which that release claims; after a rollback nothing would.
          if (atStart) await this.dropExtra(client, spare, `at ${spare.migratedTo}, unknown here`);
        } else if (atStart && kept >= target) {
          await this.dropExtra(client, spare, `beyond TENANT_SPARE_POOL=${target}`);
        } else {
          kept++;
          if (spare.migratedTo !== this.latest) await this.refresh(client, spare);
        }
      }
      let count = await this.em.fork().count(SpareDatabase, {});
      while (count < target && !this.stopping) {
        await this.create(client);
        count = await this.em.fork().count(SpareDatabase, {});
      }
      return true;
    });
  }

  private async create(client: Client): Promise<void> {
    const name = this.names.spare(randomBytes(6).toString('hex'));
    await this.em.fork().insert(SpareDatabase, { name, migratedTo: null });
    await this.template.clone(client, name);
    await this.template.migrate(name, client);
    await this.markReady(client, name);
  }

  /** Migrates a spare behind the latest migration; a spare claimed meanwhile is left to its new owner. */
  private async refresh(client: Client, spare: SpareDatabase): Promise<void> {
    if (!(await this.take(spare))) return;
    const applied = await this.template.migrate(spare.name, client);
    await this.markReady(client, spare.name);
    this.logger.log(`Migrated spare database ${spare.name}: ${applied.join(', ')}`);
  }

  /**
   * Makes a ready spare unclaimable (unprepared) unless a claim took it first; whether it did. A claim holding the
   * row makes this wait, then find it gone.
   */
  private async take(spare: SpareDatabase): Promise<boolean> {
    const taken = await this.em
      .fork()
      .nativeUpdate(SpareDatabase, { name: spare.name, migratedTo: spare.migratedTo }, { migratedTo: null });
    return taken === 1;
  }

  /** Marks a prepared spare claimable once no backend is attached to it any more (a rename would wait for it). */
  private async markReady(client: Client, name: string): Promise<void> {
    for (let tries = 0; tries < 100; tries++) {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
        [name],
      );
      if (rows[0].n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.em.fork().nativeUpdate(SpareDatabase, { name, migratedTo: null }, { migratedTo: this.latest });
  }

  /**
   * Drops a ready spare at start (beyond a lowered TENANT_SPARE_POOL, or of a migration this release does not have):
   * first made unclaimable, as a claim holding its row finishes before that and leaves nothing to drop; a crash in
   * between leaves a half-prepared row, which the next fill drops.
   */
  private async dropExtra(client: Client, spare: SpareDatabase, why: string): Promise<void> {
    if (await this.take(spare)) await this.discard(client, spare.name, why);
  }

  /** Drops a spare whose row is unprepared while we hold the fill lock (half-prepared, or an extra being dropped). */
  private async discard(client: Client, name: string, why: string): Promise<void> {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await this.em.fork().nativeDelete(SpareDatabase, { name });
    this.logger.warn(`Dropped the spare database ${name} (${why})`);
  }
}
