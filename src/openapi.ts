import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, getSchemaPath, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ERROR_DESCRIPTIONS } from './common/api-errors.decorator';
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
        'platform admin token). Every error has the shape { statusCode, error, message, code? }.',
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
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controllerKey, methodKey) => methodKey,
    extraModels: [ErrorResponseDto],
  });
  document.info.license = { name: 'UNLICENSED' };
  // No global requirement: each operation states its own (none for login, optional for sign-up).
  document.security = [];
  declareCommonErrors(document);
  declareRequestId(document);
  declareRequiredRoles(document);
  return sortKeys(document);
}

/**
 * Errors any route can answer whatever its decorators say: the exception filter's 500, and for a route with a
 * request body the body parser's 400 (malformed JSON), 413 (too large) and 415 (not JSON). Declared here once, so
 * new routes get them too.
 */
function declareCommonErrors(document: OpenAPIObject): void {
  const errorResponse = (status: number) => ({
    description: ERROR_DESCRIPTIONS[status],
    content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) } } },
  });
  for (const { operation } of listOperations(document)) {
    if (operation.requestBody) {
      operation.responses['400'] ??= errorResponse(400);
      operation.responses['413'] ??= errorResponse(413);
      operation.responses['415'] ??= errorResponse(415);
    }
    operation.responses['500'] ??= errorResponse(500);
  }
}

/** The request id every route takes and answers with (`requestId` middleware), as one parameter and one header. */
function declareRequestId(document: OpenAPIObject): void {
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
    schema: { type: 'string', pattern: ACCEPTABLE_ID.source },
  };
  for (const { operation } of listOperations(document)) {
    (operation.parameters ??= []).push({ $ref: '#/components/parameters/RequestId' });
    for (const response of Object.values(operation.responses)) {
      if (!response || '$ref' in response) continue;
      (response.headers ??= {})['X-Request-Id'] = { $ref: '#/components/headers/RequestId' };
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
