import { LoggerService, LogLevel, Type } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import type { Client } from 'pg';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { AppModule } from '../../src/app.module';
import { advisoryLock } from '../../src/database/advisory-lock';
import * as migrations from '../../src/database/migrate-to-latest';
import { configureApp } from '../../src/app.setup';
import { APP_OPTIONS } from '../../src/common/json-bodies';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { buildOpenApiDocument } from '../../src/openapi';
import { OrganizationsService } from '../../src/organizations/organizations.service';
import { TenantDatabaseNames } from '../../src/tenancy/tenant-database-names';
import type { TenantRecord } from '../../src/tenancy/tenant-registry';
import { TenantSparePool } from '../../src/tenancy/tenant-spare-pool';
import { templateLockKey } from '../../src/tenancy/tenant-template';
import { quoteIdent } from '../../src/database/sql-identifiers';
import { assertNoContractViolations, OpenApiContract } from './openapi-contract';
import {
  connectTo,
  lockWaitersIn,
  maintenanceClient,
  runId,
  serverEnv,
  settledLockWaiters,
  TEST_DB_MARKER,
} from './test-database';
import { until } from './until';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  /** TENANT_DB_PREFIX of this app: every database it creates starts with it. */
  prefix: string;
  /** Requests with the platform admin token: control-plane routes, and operator access to any tenant route. */
  http: TestAgent;
  /** Requests without credentials. */
  anon: TestAgent;
  platformToken: string;
  /** Every response this app sends is checked against its OpenAPI document; stopTestApp fails on violations. */
  contract: OpenApiContract;
  /**
   * Creates an organization through the API with an admin owner (`owner-<tenantId>@example.test`, password
   * OWNER_PASSWORD), logs the owner in, and returns the tenantId and the owner's access token (also kept for
   * `asTenant`).
   */
  signUp(name: string, farmType?: string): Promise<SignedUp>;
  /** The access token of a tenant's owner from `signUp`. */
  ownerToken(tenantId: string): string;
  close(): Promise<void>;
}

export interface SignedUp {
  id: string;
  tenantId: string;
  token: string;
}

export const OWNER_PASSWORD = 'owner password 1234';

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Where the app logs; errors and warnings to the console by default. */
  logger?: LoggerService | LogLevel[];
  controllers?: Type[];
  /** Reuse the databases of an earlier app (a restart); defaults to a new prefix. */
  prefix?: string;
}

/**
 * A fresh prefix for one app: `ft<run><random>_`, the 15 characters TENANT_DB_PREFIX allows. Three random bytes: a
 * run's databases stay until it ends, so two apps of a run must not share a prefix.
 */
export function newPrefix(): string {
  return `${TEST_DB_MARKER}${runId()}${randomBytes(3).toString('hex')}_`;
}

/** Boots the real application in-process against real PostgreSQL, with its own control database and prefix. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const prefix = options.prefix ?? newPrefix();
  const config = loadConfig({
    ...serverEnv(),
    NODE_ENV: 'test',
    TENANT_DB_PREFIX: prefix,
    DB_NAME: `${prefix.slice(0, -1)}control`,
    TENANT_CACHE_TTL_MS: '0',
    TENANT_CACHE_LISTEN_TTL_MS: '0',
    DB_CONNECTION_BUDGET: '40',
    TENANT_MAX_OPEN: '10',
    CONTROL_POOL_MAX: '3',
    PLATFORM_ADMIN_TOKEN: `platform-${randomBytes(24).toString('hex')}`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    ...options.env,
  });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule],
    controllers: options.controllers ?? [],
  })
    .overrideProvider(AppConfig)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    ...APP_OPTIONS,
    logger: options.logger ?? ['error', 'warn'],
  });
  const contract = new OpenApiContract(buildOpenApiDocument(app));
  app.use(contract.middleware);
  configureApp(app);
  try {
    await app.init();
    await app.get(OrganizationsService).resumedProvisioning();
    await app.get(TenantSparePool).settled();
  } catch (error) {
    // Half started: what it opened (pools, the change listener, timers) is closed; the start's failure is thrown.
    await app.close().catch(() => undefined);
    throw error;
  }
  const platformToken = config.PLATFORM_ADMIN_TOKEN ?? '';
  const http = request.agent(app.getHttpServer()).set('Authorization', `Bearer ${platformToken}`);
  const anon = request(app.getHttpServer());
  const ownerTokens = new Map<string, string>();
  return {
    app,
    http,
    anon,
    platformToken,
    config,
    prefix,
    contract,
    async signUp(name, farmType = 'vegetable') {
      const email = `owner-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}@example.test`;
      const owner = { firstName: 'Owner', lastName: name, email, password: OWNER_PASSWORD };
      const res = await http.post('/organizations').send({ name, farmType, owner });
      if (res.status !== 201)
        throw new Error(`sign-up of ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
      const { id, tenantId } = res.body as { id: string; tenantId: string };
      const token = await logIn(anon, tenantId, email, OWNER_PASSWORD);
      ownerTokens.set(tenantId, token);
      return { id, tenantId, token };
    },
    ownerToken(tenantId) {
      const token = ownerTokens.get(tenantId);
      if (!token) throw new Error(`no owner token for ${tenantId}: sign it up with signUp first`);
      return token;
    },
    close: () => app.close(),
  };
}

/**
 * Closes the app (its databases stay until global-teardown.ts drops the run's), then fails if any response broke the
 * OpenAPI document.
 */
export async function stopTestApp(testApp: TestApp | undefined): Promise<void> {
  if (!testApp) return;
  try {
    await testApp.close();
  } catch (error) {
    // The contract is checked all the same; both failures are told.
    try {
      assertNoContractViolations(testApp.contract);
    } catch (violations) {
      throw new AggregateError(
        [error, violations],
        'The app failed to close, and broke the OpenAPI document',
      );
    }
    throw error;
  }
  assertNoContractViolations(testApp.contract);
}

export async function withMaintenanceClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = await maintenanceClient();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A clone of the app's template, as a sign-up makes (under the template's shared lock, as it does). */
export function cloneTemplate(t: TestApp, database: string): Promise<void> {
  return withMaintenanceClient(async (c) => {
    const template = t.app.get(TenantDatabaseNames).template;
    await advisoryLock(c, templateLockKey(template), 'shared');
    await c.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE ${quoteIdent(template)}`);
  });
}

/** A tenant's record as an operator moved its database, read after `record`. */
export function movedRecord(record: TenantRecord, databaseName: string): TenantRecord {
  return { ...record, databaseName, readAt: performance.now() };
}

/**
 * Watches the migration checks of one tenant's ORMs (a spare refill or the template's upkeep checks others in the
 * background): `count()` of them since the call; `restore()` ends the watch.
 */
export function watchMigrationChecks(tenantId: string): { count(): number; restore(): void } {
  const check = jest.spyOn(migrations, 'migrateToLatest');
  return {
    count: () =>
      check.mock.calls.filter(([orm]) => orm.config.get('contextName') === `tenant:${tenantId}`).length,
    restore: () => check.mockRestore(),
  };
}

/** Points a tenant's registry record at another database, as an operator restoring it elsewhere would. */
export async function moveTenant(t: TestApp, tenantId: string, database: string): Promise<void> {
  await sqlIn(t.config.DB_NAME, 'UPDATE organizations SET database_name = $1 WHERE tenant_id = $2', [
    database,
    tenantId,
  ]);
}

/**
 * Holds these advisory locks (keys as the app takes them) while `send` starts requests, and returns how many
 * backends waited for the locks (see settledLockWaiters) before they were released, and then the statuses.
 */
export async function lockWaitersAndStatuses(
  keys: string[],
  expected: number,
  send: () => Array<PromiseLike<{ status: number }>>,
): Promise<{ waiters: number; statuses: number[] }> {
  return withMaintenanceClient(async (holder) => {
    for (const key of keys) await advisoryLock(holder, key);
    const statuses = Promise.all(send().map((request) => Promise.resolve(request).then((res) => res.status)));
    const waiters = await settledLockWaiters(holder, keys, expected);
    await holder.query('SELECT pg_advisory_unlock_all()');
    return { waiters, statuses: await statuses };
  });
}

/**
 * Runs `statements` in a transaction of another session on `database`, sends `request` once they hold their locks,
 * commits once the request is seen waiting for one of them, and answers the request's response.
 */
export async function whileLockedIn<T>(
  database: string,
  statements: Array<[sql: string, params?: unknown[]]>,
  request: () => PromiseLike<T>,
): Promise<T> {
  const other = await connectTo(database);
  try {
    await other.query('BEGIN');
    for (const [sql, params] of statements) await other.query(sql, params);
    const response = Promise.resolve(request());
    const waits = async () => (await lockWaitersIn(database)) === 1;
    await until(waits);
    expect(await waits()).toBe(true);
    await other.query('COMMIT');
    return await response;
  } finally {
    await other.end();
  }
}

/** Runs SQL in one database of the test server. */
export async function sqlIn<T extends object = Record<string, unknown>>(
  database: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = await connectTo(database);
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Sends one request as written, with a request line supertest cannot send (an absolute URL), to the app listening
 * on an ephemeral port (started on first use); resolves with the status and the body's text.
 */
export async function rawRequest(
  t: TestApp,
  options: { method: string; path: string; headers: http.OutgoingHttpHeaders },
  body?: string | Buffer,
): Promise<{ status?: number; text: string }> {
  const server = t.app.getHttpServer() as Server;
  if (!server.listening) await t.app.listen(0, '127.0.0.1');
  const port = (server.address() as AddressInfo).port;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Logs a user in to a tenant and returns the access token. */
export async function logIn(
  http: TestAgent,
  tenantId: string,
  email: string,
  password: string,
): Promise<string> {
  const res = await http.post('/api/auth/login').set('X-Tenant-ID', tenantId).send({ email, password });
  if (res.status !== 200)
    throw new Error(`login of ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { accessToken: string }).accessToken;
}

/** Requests to one tenant's routes with its X-Tenant-ID header and an access token (the owner's by default). */
export function asTenant(t: TestApp, tenantId: string, token = t.ownerToken(tenantId)) {
  const send = (req: request.Test) =>
    req.set('X-Tenant-ID', tenantId).set('Authorization', `Bearer ${token}`);
  return {
    post: (path: string, body: object) => send(t.anon.post(path)).send(body),
    patch: (path: string, body: object) => send(t.anon.patch(path)).send(body),
    get: (path: string) => send(t.anon.get(path)),
    delete: (path: string) => send(t.anon.delete(path)),
  };
}
