import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPENAPI_FILE, serializeOpenApiDocument } from '../src/openapi';
import { startTestApp, stopTestApp, TestApp } from './support/test-app';

interface Operation {
  operationId?: string;
  tags?: string[];
  parameters?: Array<{
    name: string;
    in: string;
    required?: boolean;
    schema?: { type?: string };
    $ref?: string;
  }>;
  requestBody?: object;
  security?: Array<Record<string, string[]>>;
  'x-required-role'?: string;
  responses: Record<
    string,
    {
      description?: string;
      content?: Record<
        string,
        {
          schema: {
            $ref?: string;
            allOf?: Array<{ $ref?: string; properties?: { code: { enum: string[] } } }>;
          };
        }
      >;
      headers?: Record<string, { $ref?: string }>;
    }
  >;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let served: {
    paths: Record<string, Record<string, Operation>>;
    components: { securitySchemes: Record<string, { type: string; scheme: string }> };
  };
  let paths: Record<string, Record<string, Operation>>;

  beforeAll(async () => {
    t = await startTestApp();
    served = (await t.http.get('/docs-json').expect(200)).body;
    paths = served.paths;
  });

  afterAll(() => stopTestApp(t));

  const operations = () =>
    Object.entries(paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    );

  it('is the committed openapi.json (after changing routes or DTOs, run `npm run openapi`)', () => {
    const committed = readFileSync(join(__dirname, '..', OPENAPI_FILE), 'utf8');
    expect(serializeOpenApiDocument(served)).toBe(committed);
  });

  it('describes every route', () => {
    expect(
      operations()
        .map(({ method, path }) => `${method.toUpperCase()} ${path}`)
        .sort(),
    ).toEqual([
      'DELETE /api/crops/{id}',
      'DELETE /api/harvests/{id}',
      'DELETE /api/users/{id}',
      'GET /api/auth/me',
      'GET /api/crops',
      'GET /api/crops/{id}',
      'GET /api/crops/{id}/harvests',
      'GET /api/harvests',
      'GET /api/harvests/{id}',
      'GET /api/reports/harvest-summary',
      'GET /api/users',
      'GET /api/users/{id}',
      'GET /health',
      'GET /health/ready',
      'GET /organizations',
      'GET /organizations/{id}',
      'PATCH /api/crops/{id}',
      'PATCH /api/harvests/{id}',
      'PATCH /api/users/{id}',
      'POST /api/auth/login',
      'POST /api/auth/password',
      'POST /api/crops',
      'POST /api/harvests',
      'POST /api/users',
      'POST /organizations',
    ]);
  });

  it('gives every operation an operationId, a tag and described responses', () => {
    for (const { op } of operations()) {
      expect(op.operationId).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.tags?.length).toBe(1);
      for (const response of Object.values(op.responses)) expect(response.description).toBeTruthy();
    }
  });

  it('declares the body errors on every operation with a body, and X-Request-Id on every operation and answer', () => {
    for (const { path, method, op } of operations()) {
      const bodyErrors = ['400', '413', '415'].filter((status) => status in op.responses);
      expect({ path, method, bodyErrors }).toEqual({
        path,
        method,
        bodyErrors: op.requestBody ? ['400', '413', '415'] : bodyErrors,
      });
      expect(op.parameters).toContainEqual({ $ref: '#/components/parameters/RequestId' });
      for (const response of Object.values(op.responses)) {
        expect(response.headers?.['X-Request-Id']).toEqual({ $ref: '#/components/headers/RequestId' });
      }
    }
    const page = paths['/api/crops'].get.parameters ?? [];
    expect(page.filter((p) => ['limit', 'offset'].includes(p.name)).map((p) => p.schema?.type)).toEqual([
      'integer',
      'integer',
    ]);
  });

  /** The `code`s an error response lists, by status. */
  const errorCodes = (op: Operation): Record<string, string[]> =>
    Object.fromEntries(
      Object.entries(op.responses)
        .filter(([status]) => Number(status) >= 400)
        .map(([status, response]) => {
          const [common, codes] = response.content?.['application/json'].schema.allOf ?? [];
          expect(common).toEqual({ $ref: '#/components/schemas/ErrorResponseDto' });
          return [status, codes?.properties?.code.enum ?? []];
        }),
    );

  it('declares the X-Tenant-ID header (optional: the host may name the tenant) and the tenant errors', () => {
    for (const { path, op } of operations().filter(({ path }) => path.startsWith('/api/'))) {
      expect({
        path,
        header: op.parameters?.find((p) => p.name === 'X-Tenant-ID' && p.in === 'header'),
      }).toEqual({
        path,
        header: expect.objectContaining({ required: false }),
      });
      const codes = errorCodes(op);
      expect(codes['400']).toEqual(expect.arrayContaining(['TENANT_REQUIRED', 'TENANT_ID_MALFORMED']));
      expect(codes['404']).toContain('TENANT_NOT_FOUND');
      expect(codes['503']).toEqual(expect.arrayContaining(['TENANT_UNAVAILABLE', 'DATABASE_UNAVAILABLE']));
    }
  });

  it("lists each error response's codes, and declares no status a route cannot answer", () => {
    const codesOf = (method: string, path: string) => errorCodes(paths[path][method]);
    for (const { op } of operations()) {
      for (const codes of Object.values(errorCodes(op))) expect(codes.length).toBeGreaterThan(0);
    }
    expect(codesOf('get', '/health')).toEqual({ 500: ['INTERNAL_ERROR'] });
    expect(codesOf('get', '/health/ready')).toEqual({
      500: ['INTERNAL_ERROR'],
      503: ['NOT_READY', 'SHUTTING_DOWN'],
    });
    expect(codesOf('get', '/organizations/{id}')).toEqual({
      400: ['BAD_REQUEST'],
      401: ['AUTH_REQUIRED', 'TOKEN_INVALID'],
      404: ['ORGANIZATION_NOT_FOUND'],
      500: ['INTERNAL_ERROR'],
      503: ['DATABASE_UNAVAILABLE', 'QUERY_TIMEOUT', 'TRANSACTION_CONFLICT'],
    });
    expect(codesOf('delete', '/api/users/{id}')).toEqual(
      expect.objectContaining({
        400: ['BAD_REQUEST', 'INVALID_ID', 'TENANT_ID_MALFORMED', 'TENANT_REQUIRED'],
        403: ['ROLE_FORBIDDEN', 'TENANT_MISMATCH'],
        404: ['TENANT_NOT_FOUND', 'USER_NOT_FOUND'],
        409: ['LAST_ADMIN'],
      }),
    );
    expect(codesOf('get', '/api/auth/me')['403']).toEqual(['TENANT_MISMATCH', 'USER_TOKEN_REQUIRED']);
    expect(codesOf('get', '/api/crops')['400']).toEqual(
      expect.arrayContaining(['INVALID_RANGE', 'VALIDATION_FAILED']),
    );
    expect(Object.keys(codesOf('get', '/api/crops/{id}'))).toEqual([
      '400',
      '401',
      '403',
      '404',
      '500',
      '503',
    ]);
    expect(codesOf('get', '/api/crops/{id}')['403']).toEqual(['TENANT_MISMATCH']);
    expect(codesOf('post', '/api/harvests')['409']).toBeUndefined();
    expect(codesOf('post', '/api/auth/login')).toEqual(
      expect.objectContaining({ 401: ['INVALID_CREDENTIALS'], 429: ['LOGIN_LOCKED'] }),
    );
    expect(codesOf('post', '/api/auth/login')['403']).toBeUndefined();
    expect(paths['/api/auth/login'].post.responses['429'].headers?.['Retry-After']).toBeDefined();
    expect(paths['/api/crops'].get.responses['503'].headers?.['Retry-After']).toBeDefined();
    expect(paths['/organizations'].get.responses['503'].headers?.['Retry-After']).toBeUndefined();
  });

  it('lists every error code the source holds on some operation', () => {
    const listed = new Set(operations().flatMap(({ op }) => Object.values(errorCodes(op)).flat()));
    const source = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? source(join(dir, entry.name))
          : entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')
            ? [readFileSync(join(dir, entry.name), 'utf8')]
            : [],
      );
    const root = join(__dirname, '..');
    // Settings' names are code-shaped too: every one is in .env.example.
    const settings = new Set(
      [...readFileSync(join(root, '.env.example'), 'utf8').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map(
        (m) => m[1],
      ),
    );
    const text = source(join(root, 'src'));
    const literals = text.flatMap((file) =>
      [...file.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)].map((m) => m[1]),
    );
    // findByIdOrFail and notFound build `<ENTITY>_NOT_FOUND` from the entity they are given.
    const notFound = text.flatMap((file) =>
      [...file.matchAll(/(?:findByIdOrFail\([^,]+|notFound\()\s*,?\s*([A-Z]\w*)\s*,/g)].map(
        (m) => `${m[1].toUpperCase()}_NOT_FOUND`,
      ),
    );
    expect(notFound).toContain('HARVEST_NOT_FOUND');
    const codes = new Set([...literals, ...notFound].filter((literal) => !settings.has(literal)));
    // Injection tokens, and the filter's fallbacks for constraint violations no route leaves unmapped.
    const notCodes = ['TENANT_ENTITY_MANAGER', 'TENANT_PAYLOAD', 'UNIQUE_VIOLATION', 'FOREIGN_KEY_VIOLATION'];
    expect([...codes].filter((code) => !listed.has(code) && !notCodes.includes(code))).toEqual([]);
    expect(codes.size).toBeGreaterThan(40);
  });

  it('gives each error response its status, a required code and an example of its own', () => {
    for (const { path, method, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses).filter(([s]) => Number(s) >= 400)) {
        const content = response.content?.['application/json'] as unknown as {
          schema: { allOf: [object, { required: string[]; properties: { statusCode: { enum: number[] } } }] };
          example: { statusCode: number; code: string };
        };
        const own = content.schema.allOf[1];
        expect({
          at: `${method} ${path} ${status}`,
          required: own.required,
          status: own.properties.statusCode.enum,
        }).toEqual({ at: `${method} ${path} ${status}`, required: ['code'], status: [Number(status)] });
        expect(content.example.statusCode).toBe(Number(status));
        expect(errorCodes(op)[status]).toContain(content.example.code);
      }
    }
  });

  it('closes the schemas of request bodies to fields they do not declare (the pipe refuses them), and only those', () => {
    const schemas = (
      served as unknown as { components: { schemas: Record<string, Record<string, unknown>> } }
    ).components.schemas;
    /** The names of the component schemas `value` refers to, directly or through them. */
    const referred = (value: unknown, names = new Set<string>()): Set<string> => {
      const text = JSON.stringify(value);
      for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
        if (names.has(name)) continue;
        names.add(name);
        referred(schemas[name], names);
      }
      return names;
    };
    const objects = (names: Set<string>) =>
      [...names].filter((name) => schemas[name].type === 'object').sort();
    const requests = objects(referred(operations().map(({ op }) => op.requestBody)));
    const responses = objects(referred(operations().map(({ op }) => op.responses)));
    expect(requests).toEqual(expect.arrayContaining(['CreateOrganizationDto', 'OwnerDto', 'UpdateCropDto']));
    for (const name of requests)
      expect({ name, closed: schemas[name].additionalProperties }).toEqual({ name, closed: false });
    for (const name of responses)
      expect({ name, closed: schemas[name].additionalProperties }).toEqual({ name, closed: undefined });
  });

  it('names each enum once (one type in generated clients) and declares every tag', () => {
    const document = served as unknown as {
      components: { schemas: Record<string, { enum?: string[] }> };
      tags: Array<{ name: string }>;
    };
    const named = ['Role', 'HarvestUnit', 'FarmType', 'OrganizationStatus'].map(
      (name) => document.components.schemas[name]?.enum,
    );
    expect(named).toEqual([
      ['viewer', 'member', 'admin'],
      ['kg', 'bushel', 'crate'],
      ['vegetable', 'dairy', 'orchard', 'mixed'],
      ['provisioning', 'active', 'failed'],
    ]);
    // Elsewhere no schema spells one of them out again.
    const others = Object.entries(document.components.schemas).filter(
      ([name]) => !['Role', 'HarvestUnit', 'FarmType', 'OrganizationStatus'].includes(name),
    );
    const text = JSON.stringify([served.paths, others]);
    for (const values of named) expect(text).not.toContain(JSON.stringify(values));
    const tags = new Set(operations().flatMap(({ op }) => op.tags ?? []));
    expect(document.tags.map((tag) => tag.name).sort()).toEqual([...tags].sort());
  });

  it('declares the bearer schemes and which routes need which', () => {
    expect(served.components.securitySchemes).toEqual({
      tenantUser: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
      platformAdmin: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
    const security = Object.fromEntries(
      operations().map(({ method, path, op }) => [`${method.toUpperCase()} ${path}`, op.security]),
    );
    for (const [route, requirement] of Object.entries(security)) {
      const [, path] = route.split(' ');
      if (route === 'POST /api/auth/login' || path.startsWith('/health')) {
        expect({ route, requirement }).toEqual({ route, requirement: undefined });
      } else if (path.startsWith('/api/auth/')) {
        // About the calling user: the platform token gets 403 there.
        expect({ route, requirement }).toEqual({ route, requirement: [{ tenantUser: [] }] });
      } else if (path.startsWith('/api/')) {
        expect({ route, requirement }).toEqual({
          route,
          requirement: [{ tenantUser: [] }, { platformAdmin: [] }],
        });
      } else if (route === 'POST /organizations') {
        expect(requirement).toEqual([{ platformAdmin: [] }, {}]);
      } else {
        expect({ route, requirement }).toEqual({ route, requirement: [{ platformAdmin: [] }] });
      }
    }
    for (const { method, path, op } of operations()) {
      if (!op.security) continue;
      expect({ route: `${method} ${path}`, has401: '401' in op.responses }).toEqual({
        route: `${method} ${path}`,
        has401: true,
      });
      if (path.startsWith('/api/')) expect(op.responses['403']).toBeDefined();
    }
  });

  it('states the weakest role of every route a user may call', () => {
    const roles = Object.fromEntries(
      operations()
        .filter(({ op }) => op.security?.some((requirement) => 'tenantUser' in requirement))
        .map(({ method, path, op }) => [`${method.toUpperCase()} ${path}`, op['x-required-role']]),
    );
    const writes = Object.entries(roles).filter(([route]) => !route.startsWith('GET '));
    expect(Object.fromEntries(writes)).toEqual({
      'POST /api/auth/password': 'viewer',
      'POST /api/crops': 'member',
      'PATCH /api/crops/{id}': 'member',
      'DELETE /api/crops/{id}': 'member',
      'POST /api/harvests': 'member',
      'PATCH /api/harvests/{id}': 'member',
      'DELETE /api/harvests/{id}': 'member',
      'POST /api/users': 'admin',
      'PATCH /api/users/{id}': 'admin',
      'DELETE /api/users/{id}': 'admin',
    });
    for (const [route, role] of Object.entries(roles)) {
      if (route.startsWith('GET ')) expect({ route, role }).toEqual({ route, role: 'viewer' });
    }
  });
});
