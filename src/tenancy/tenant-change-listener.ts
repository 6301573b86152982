import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DatabaseError } from 'pg';
import type { Client, Notification } from 'pg';
import { describeError } from '../common/error-text';
import { AppConfig } from '../config/app-config';
import { DatabaseServer, endWithin, keepWhileIdle } from '../database/database-server';
import { TenantRegistry } from './tenant-registry';

/** The channel the control plane's triggers on `organizations` notify (migrations/control). */
export const TENANT_CHANGED_CHANNEL = 'tenant_changed';
/** The payload of a TRUNCATE of `organizations`: every tenant changed (no tenant id has a `*`). */
export const ALL_TENANTS_CHANGED = '*';
/** The listener's connection in pg_stat_activity. */
export const TENANT_CHANGES_APPLICATION_NAME = 'farm-management:tenant-changes';
const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 30_000;
/**
 * How long shutdown waits for the server to acknowledge the end of the session (a silent one never does), before the
 * socket is destroyed.
 */
const END_WAIT_MS = 1_000;
/** The heartbeat: whether this session still listens on the channel. */
const LISTENING_QUERY = 'SELECT EXISTS (SELECT FROM pg_listening_channels() AS c WHERE c = $1) AS listening';

/**
 * Holds one connection to the control database that LISTENs for changes to organizations and drops each changed
 * tenant's cached registry answer, so that the registry can trust its answers for long
 * (TENANT_CACHE_LISTEN_TTL_MS) and yet sees another process's sign-up, or an operator's change, as soon as it
 * commits. Under Zipf traffic over 1,000 tenants the five-second time-to-live sent about a quarter of the requests
 * to the control plane (bench/README.md). When the connection is lost, or stops answering or listening (a
 * heartbeat every TENANT_CHANGES_HEARTBEAT_MS), the registry falls back to TENANT_CACHE_TTL_MS and forgets what it
 * cached, and the listener reconnects with a growing delay.
 */
@Injectable()
export class TenantChangeListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TenantChangeListener.name);
  /** The client connecting or listening; the events of any other are stale. */
  private current?: Client;
  private retry?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly server: DatabaseServer,
    private readonly config: AppConfig,
    private readonly registry: TenantRegistry,
  ) {}

  /** Waits for the first attempt, so that a started app listens; a failed one is retried in the background. */
  onApplicationBootstrap(): Promise<void> {
    return this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    const client = this.current;
    this.current = undefined;
    if (client) await endWithin(client, END_WAIT_MS);
  }

  private async listen(): Promise<void> {
    const client = this.server.client(this.config.DB_NAME, TENANT_CHANGES_APPLICATION_NAME, {
      // The LISTEN (and a heartbeat) gets as long as the connection may take to be made (socketOptions): a
      // connection that goes silent before the heartbeat starts is not kept.
      query_timeout: this.server.socketOptions.connectionTimeoutMillis,
      // A peer that vanished (no FIN, no RST) is noticed by the kernel's probes (KEEPALIVE, every client of the
      // server's); one that answers them but not the queries (a proxy or pooler in between, a hung server) by the
      // heartbeat (TENANT_CHANGES_HEARTBEAT_MS).
    });
    this.current = client;
    client.on('notification', (message: Notification) => {
      if (message.channel !== TENANT_CHANGED_CHANNEL || !message.payload) return;
      if (message.payload === ALL_TENANTS_CHANGED) this.registry.invalidateAll();
      else this.registry.invalidate(message.payload);
    });
    client.on('error', (error) => this.lost(client, error));
    // Deferred: a failed connect emits 'end' (on the next tick) before its rejection reaches the catch below, which
    // reports the loss with its error.
    client.on('end', () => setImmediate(() => this.lost(client)));
    try {
      await client.connect();
      // Not ended while it waits: each loss clears the cache.
      await keepWhileIdle(client);
      await client.query(`LISTEN ${TENANT_CHANGED_CHANNEL}`);
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (this.current !== client) return;
    if (this.failures > 0) this.logger.log('Listening to tenant changes again');
    this.failures = 0;
    this.registry.setListening(true);
    this.startHeartbeat(client);
  }

  /**
   * Asks every TENANT_CHANGES_HEARTBEAT_MS whether the client still listens: a question left unanswered when the next
   * is due (a server or a proxy that stopped answering), or answered no (a pooler that moved the session), counts
   * the connection as lost.
   */
  private startHeartbeat(client: Client): void {
    const every = this.config.TENANT_CHANGES_HEARTBEAT_MS;
    if (every === 0) return;
    let unanswered = false;
    this.heartbeat = setInterval(() => {
      if (unanswered) {
        // After the event loop's poll phase: when the loop has stalled, an answer may wait in the socket, unread.
        setImmediate(() => {
          if (unanswered) this.lost(client, new Error(`no answer to a heartbeat within ${every} ms`));
        });
        return;
      }
      unanswered = true;
      client.query<{ listening: boolean }>(LISTENING_QUERY, [TENANT_CHANGED_CHANNEL]).then(
        ({ rows }) => {
          unanswered = false;
          if (!rows[0]?.listening) this.lost(client, new Error(`not listening on ${TENANT_CHANGED_CHANNEL}`));
        },
        (error: unknown) => {
          // The server's error is an answer; a failure without one (the connection lost, the query's timeout) leaves
          // the question unanswered.
          if (error instanceof DatabaseError) unanswered = false;
        },
      );
    }, every);
    this.heartbeat.unref();
  }

  /** The client's connection failed or ended: unless it is stale or the app stops, fall back and retry. */
  private lost(client: Client, error?: unknown): void {
    void client.end().catch(() => undefined);
    if (client !== this.current) return;
    this.current = undefined;
    clearInterval(this.heartbeat);
    this.registry.setListening(false);
    if (this.stopped) return;
    const delay = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures++);
    this.logger.warn(
      `Not listening to tenant changes (${error ? describeError(error) : 'connection ended'}); ` +
        `registry answers are trusted for TENANT_CACHE_TTL_MS until it reconnects, retrying in ${delay} ms`,
    );
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.listen();
    }, delay);
    this.retry.unref();
  }
}
