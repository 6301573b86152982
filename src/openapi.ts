import { INestApplication } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { DocumentBuilder, getSchemaPath, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { ParameterObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { ERROR_CODES_EXTENSION, ERROR_DESCRIPTIONS, ErrorCodes } from './common/api-errors.decorator';
import { ErrorResponseDto } from './common/error-response.dto';
import { ACCEPTABLE_ID } from './common/request-id';
import {
  defaultRequiredRole,
  PLATFORM_ADMIN_SCHEME,
  REQUIRED_ROLE_EXTENSION,
  TENANT_USER_SCHEME,
} from './auth/auth.decorators';

/** Where the generated document is committed; `npm run openapi` writes it, CI checks it is current. */
export const OPENAPI_FILE = 'openapi.json';

/**
 * The OpenAPI document of the app, served at /docs-json and written to openapi.json. It reads decorators only, so
 * it also works on an app created in preview mode (no provider instantiated, no database started).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('farm-management')
    .setDescription(
      'Multi-tenant farm management API. Each organization (tenant) has its own PostgreSQL database. ' +
        'Sign up with POST /organizations, then call /api/... routes with the X-Tenant-ID header set to the ' +
        "organization's tenantId and Authorization: Bearer <accessToken> from POST /api/auth/login (or the " +
        'platform admin token). Every error has the shape { statusCode, error, message, code }; each error response ' +
        'lists the codes it can carry. A body field an operation does not declare is refused (400 ' +
        'VALIDATION_FAILED), as is a query parameter it does not declare when it declares some; one it declares, ' +
        'sent empty or blank, counts as not sent.',
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'A user access token from POST /api/auth/login, valid for the organization it was issued for',
      },
      TENANT_USER_SCHEME,
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'opaque',
        description:
          'The platform admin token (PLATFORM_ADMIN_TOKEN): control-plane routes, and support access to any ' +
          'tenant route (logged)',
      },
      PLATFORM_ADMIN_SCHEME,
    )
    .setVersion('0.1.0')
    .addServer('/', 'The server that serves this document')
    .addTag('organizations', 'Sign-up and the registry of organizations (the platform operator)')
    .addTag('auth', "Logging in to an organization, and the calling user's own account")
    .addTag('users', "The organization's users and their roles")
    .addTag('crops', "The organization's crops, and each crop's harvests")
    .addTag('harvests', 'Harvests of the crops')
    .addTag('reports', 'Figures computed from the harvests')
    .addTag('health', 'Liveness and readiness')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controllerKey, methodKey) => methodKey,
    extraModels: [ErrorResponseDto],
  });
  document.info.license = { name: 'UNLICENSED' };
  // No global requirement: each operation states its own (none for login, optional for sign-up).
  document.security = [];
  declareRequiredRoles(document);
  declareClosedBodies(document);
  declareErrors(document);
  declareCommonHeaders(document);
  return sortKeys(document);
}

/** The codes every route, or every route of a kind, can answer, by status. */
const INTERNAL_ERRORS: ErrorCodes = { 500: ['INTERNAL_ERROR'] };
/** The body parser's refusals and the body's validation (only POST, PUT and PATCH bodies are read). */
const BODY_ERRORS: ErrorCodes = {
  400: ['INVALID_JSON', 'MALFORMED_BODY', 'REQUEST_ABORTED', 'VALIDATION_FAILED'],
  413: ['PAYLOAD_TOO_LARGE'],
  415: ['UNSUPPORTED_MEDIA_TYPE', 'UNSUPPORTED_CHARSET', 'UNSUPPORTED_ENCODING'],
};
const QUERY_ERRORS: ErrorCodes = { 400: ['VALIDATION_FAILED'] };
/** A path parameter: Express's refusal of one it cannot percent-decode (a code-less 400), a UUID's check. */
const PATH_ERRORS: ErrorCodes = { 400: ['BAD_REQUEST'] };
const UUID_PATH_ERRORS: ErrorCodes = { 400: ['INVALID_ID'] };
/** A route that reads or writes a database: the filter's answers for a server that fails the request. */
const DATABASE_ERRORS: ErrorCodes = {
  503: ['DATABASE_UNAVAILABLE', 'QUERY_TIMEOUT', 'TRANSACTION_CONFLICT'],
};
/** The tenant middleware and the tenant's connection registry, before the route runs. */
const TENANT_ERRORS: ErrorCodes = {
  400: ['TENANT_REQUIRED', 'TENANT_ID_MALFORMED'],
  404: ['TENANT_NOT_FOUND'],
  503: [
    'TENANT_PROVISIONING',
    'TENANT_PROVISIONING_FAILED',
    'TENANT_UNAVAILABLE',
    'TENANT_CAPACITY',
    'SHUTTING_DOWN',
  ],
};
const TENANT_USER_ERRORS: ErrorCodes = {
  401: ['AUTH_REQUIRED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED'],
  403: ['TENANT_MISMATCH'],
};
const PLATFORM_TOKEN_ERRORS: ErrorCodes = { 401: ['AUTH_REQUIRED', 'TOKEN_INVALID'] };

/** The 503 codes whose answers may carry Retry-After (every 429 does), with when they do. */
const RETRY_AFTER: Record<string, string> = {
  TENANT_UNAVAILABLE: "a tenant's database that failed to open: refused for a while",
  PASSWORD_CHECKS_BUSY: 'too many password checks under way',
};

type ErrorHeaders = Record<
  string,
  { description: string; required?: boolean; schema: { type: 'string' | 'integer'; enum?: string[] } }
>;

/**
 * Declares every error an operation can answer, each status with the `code`s it can carry as an enum: the route's
 * own (`ApiErrors`) and those of what it is. Statuses come from their codes alone, so a route declares no status
 * it cannot answer, and the e2e contract check (test/support/openapi-contract.ts) fails on a code not listed.
 */
function declareErrors(document: OpenAPIObject): void {
  for (const { operation } of listOperations(document)) {
    const extensions = operation as unknown as Record<string, unknown>;
    const codes = new Map<number, Set<string>>();
    const add = (more: ErrorCodes) => {
      for (const [status, list] of Object.entries(more)) {
        const set = codes.get(Number(status)) ?? new Set<string>();
        list?.forEach((code) => set.add(code));
        codes.set(Number(status), set);
      }
    };
    const parameters = (operation.parameters ?? []).filter((p): p is ParameterObject => !('$ref' in p));
    const security = operation.security ?? [];
    const tenantRoute = parameters.some((p) => p.in === 'header' && p.name === 'X-Tenant-ID');
    const byTenantUser = security.some((requirement) => TENANT_USER_SCHEME in requirement);
    const byPlatform = security.some((requirement) => PLATFORM_ADMIN_SCHEME in requirement);
    add(INTERNAL_ERRORS);
    if (operation.requestBody) add(BODY_ERRORS);
    if (parameters.some((p) => p.in === 'query')) add(QUERY_ERRORS);
    if (parameters.some((p) => p.in === 'path')) add(PATH_ERRORS);
    if (parameters.some((p) => p.in === 'path' && isUuid(p.schema))) add(UUID_PATH_ERRORS);
    if (tenantRoute || security.length > 0) add(DATABASE_ERRORS);
    if (tenantRoute) add(TENANT_ERRORS);
    if (byTenantUser) add(TENANT_USER_ERRORS);
    if (byTenantUser && extensions[REQUIRED_ROLE_EXTENSION] !== 'viewer') add({ 403: ['ROLE_FORBIDDEN'] });
    // A tenant route about the calling user takes the platform token, and answers it with 403.
    if (byTenantUser && !byPlatform) add({ 403: ['USER_TOKEN_REQUIRED'] });
    if (byPlatform && !tenantRoute) add(PLATFORM_TOKEN_ERRORS);
    add((extensions[ERROR_CODES_EXTENSION] as ErrorCodes | undefined) ?? {});
    delete extensions[ERROR_CODES_EXTENSION];
    for (const [status, set] of codes) {
      operation.responses[String(status)] = errorResponse(status, [...set].sort());
    }
  }
}

/**
 * Marks the object schemas of request bodies, and those their properties refer to, `additionalProperties: false`: the
 * validation pipe refuses a field its DTO does not declare (400 VALIDATION_FAILED), so an SDK must not let one be sent
 * (a crop as read passed back as its update, say). No such schema is also a response's (those stay open to fields
 * added later); only enums are shared.
 */
function declareClosedBodies(document: OpenAPIObject): void {
  const schemas = document.components?.schemas ?? {};
  const visited = new Set<string>();
  const close = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(close);
    if (value === null || typeof value !== 'object') return;
    const ref = (value as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const name = ref.slice(ref.lastIndexOf('/') + 1);
      const schema = schemas[name];
      if (visited.has(name) || !schema) return;
      visited.add(name);
      if ('type' in schema && schema.type === 'object') schema.additionalProperties = false;
      return close(schema);
    }
    Object.values(value).forEach(close);
  };
  for (const { operation } of listOperations(document)) close(operation.requestBody);
}

function errorResponse(status: number, codes: string[]) {
  const headers: ErrorHeaders = {};
  if (status === 401)
    headers['WWW-Authenticate'] = {
      description: 'Always `Bearer`',
      required: true,
      schema: { type: 'string', enum: ['Bearer'] },
    };
  const retryAfter = codes.filter((code) => code in RETRY_AFTER);
  if (status === 429 || retryAfter.length > 0) {
    headers['Retry-After'] = {
      description:
        status === 429
          ? 'Seconds until a new attempt may succeed'
          : `Seconds until a new attempt may succeed, when known (${retryAfter.map((code) => RETRY_AFTER[code]).join('; ')})`,
      schema: { type: 'integer' },
    };
  }
  return {
    description: ERROR_DESCRIPTIONS[status],
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: {
      'application/json': {
        schema: {
          allOf: [
            { $ref: getSchemaPath(ErrorResponseDto) },
            {
              type: 'object',
              required: ['code'],
              properties: {
                statusCode: { type: 'integer', enum: [status] },
                code: { type: 'string', enum: codes },
              },
            },
          ],
        },
        example: {
          statusCode: status,
          error: STATUS_CODES[status],
          message: ERROR_DESCRIPTIONS[status],
          code: codes[0],
        },
      },
    },
  };
}

function isUuid(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as { format?: unknown }).format === 'uuid';
}

/**
 * What every operation takes and every response carries: the request id (`requestId` middleware), as one parameter
 * and one header, and `Cache-Control: no-store` (`noStore`).
 */
function declareCommonHeaders(document: OpenAPIObject): void {
  const components = (document.components ??= {});
  (components.parameters ??= {}).RequestId = {
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    description:
      'An id for this request, echoed in the response and in log lines when it is 1-128 of A-Z a-z 0-9 . _ : - ' +
      '(any other value is replaced by a new UUID, not refused)',
    schema: { type: 'string' },
  };
  (components.headers ??= {}).RequestId = {
    description: "The request's X-Request-Id when it matched the pattern, else a new UUID",
    required: true,
    schema: { type: 'string', pattern: ACCEPTABLE_ID.source },
  };
  components.headers.NoStore = {
    description:
      "Always `no-store`: a response carries one organization's data for one user, which no cache may keep (no " +
      'validators are sent and conditional requests are not answered with 304)',
    required: true,
    schema: { type: 'string', enum: ['no-store'] },
  };
  for (const { operation } of listOperations(document)) {
    (operation.parameters ??= []).push({ $ref: '#/components/parameters/RequestId' });
    for (const response of Object.values(operation.responses)) {
      if (!response || '$ref' in response) continue;
      response.headers ??= {};
      response.headers['X-Request-Id'] = { $ref: '#/components/headers/RequestId' };
      response.headers['Cache-Control'] = { $ref: '#/components/headers/NoStore' };
    }
  }
}

/**
 * States on every operation a tenant user may call the weakest role it needs, as `x-required-role` and in the
 * description (which Swagger UI shows): the route's `RequireRole`, else the guard's default for its method.
 */
function declareRequiredRoles(document: OpenAPIObject): void {
  for (const { operation, method } of listOperations(document)) {
    if (!operation.security?.some((requirement) => TENANT_USER_SCHEME in requirement)) continue;
    const extensions = operation as unknown as Record<string, unknown>;
    const role = (extensions[REQUIRED_ROLE_EXTENSION] as string | undefined) ?? defaultRequiredRole(method);
    extensions[REQUIRED_ROLE_EXTENSION] = role;
    const needs = `Needs the ${role} role or higher (viewer < member < admin).`;
    operation.description = operation.description ? `${operation.description}\n\n${needs}` : needs;
  }
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
export type Method = (typeof METHODS)[number];
export type Operation = NonNullable<OpenAPIObject['paths'][string][Method]>;

export interface DocumentedOperation {
  method: Method;
  /** The path template as the document writes it: `/api/crops/{id}`. */
  path: string;
  operation: Operation;
}

/** Every operation of the document, in document order (also what the e2e tests check the document with). */
export function listOperations(document: OpenAPIObject): DocumentedOperation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const operation = item[method];
      return operation ? [{ method, path, operation }] : [];
    }),
  );
}

/** The document as committed: two-space indentation, a trailing newline. */
export function serializeOpenApiDocument(document: object): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Object keys in code-point order at every level (arrays keep theirs), so the file does not churn on refactors. */
function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => sortKeys(item)) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  ) as T;
}
