import { Type } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { buildOpenApiDocument } from '../../src/openapi';
import { OrganizationsService } from '../../src/organizations/organizations.service';
import { TenantSparePool } from '../../src/tenancy/tenant-spare-pool';
import { assertNoContractViolations, OpenApiContract } from './openapi-contract';
import {
  connectTo,
  dropDatabases,
  maintenanceClient,
  runId,
  serverEnv,
  TEST_DB_MARKER,
} from './test-database';

export interface TestApp {
  app: NestExpressApplication;
  http: TestAgent;
  config: AppConfig;
  /** TENANT_DB_PREFIX of this app: every database it creates starts with it. */
  prefix: string;
  /** Every response this app sends is checked against its OpenAPI document; stopTestApp fails on violations. */
  contract: OpenApiContract;
  /** Creates an organization through the API and returns its tenantId. */
  signUp(name: string, farmType?: string): Promise<{ id: string; tenantId: string }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  controllers?: Type[];
  /** Reuse the databases of an earlier app (a restart); defaults to a new prefix. */
  prefix?: string;
}

/** A fresh prefix for one app: `ft<run><random>_`, at most 15 characters as TENANT_DB_PREFIX requires. */
export function newPrefix(): string {
  return `${TEST_DB_MARKER}${runId()}${randomBytes(2).toString('hex')}_`;
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
    DB_CONNECTION_BUDGET: '40',
    TENANT_MAX_OPEN: '10',
    CONTROL_POOL_MAX: '3',
    ...options.env,
  });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule],
    controllers: options.controllers ?? [],
  })
    .overrideProvider(AppConfig)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: ['error', 'warn'] });
  const contract = new OpenApiContract(buildOpenApiDocument(app));
  app.use(contract.middleware);
  configureApp(app);
  await app.init();
  await app.get(OrganizationsService).resumedProvisioning();
  await app.get(TenantSparePool).settled();
  const http = request(app.getHttpServer());
  return {
    app,
    http,
    config,
    prefix,
    contract,
    async signUp(name, farmType = 'vegetable') {
      const res = await http.post('/organizations').send({ name, farmType });
      if (res.status !== 201)
        throw new Error(`sign-up of ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as { id: string; tenantId: string };
    },
    close: () => app.close(),
  };
}

/** Closes the app, drops every database it created, then fails if any response broke the OpenAPI document. */
export async function stopTestApp(testApp: TestApp | undefined): Promise<void> {
  if (!testApp) return;
  await testApp.close();
  // The prefix without its trailing `_` covers the tenant databases and the control database (`<prefix minus _>control`).
  await withMaintenanceClient((client) => dropDatabases(client, testApp.prefix.slice(0, -1)));
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

/** Requests to one tenant's routes, with its X-Tenant-ID header set. */
export function asTenant(http: TestAgent, tenantId: string) {
  return {
    post: (path: string, body: object) => http.post(path).set('X-Tenant-ID', tenantId).send(body),
    patch: (path: string, body: object) => http.patch(path).set('X-Tenant-ID', tenantId).send(body),
    get: (path: string) => http.get(path).set('X-Tenant-ID', tenantId),
    delete: (path: string) => http.delete(path).set('X-Tenant-ID', tenantId),
  };
}
