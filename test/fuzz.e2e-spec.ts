import type { OpenAPIObject } from '@nestjs/swagger';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPENAPI_FILE } from '../src/openapi';
import { DocumentedOperation, listOperations } from '../src/openapi';
import { isTenantOperation } from './support/openapi-operations';
import { startTestApp, stopTestApp, TestApp } from './support/test-app';

/** Requests per operation: enough to find a 500 in the validators, few enough for a short run. */
const RUNS_PER_OPERATION = 100;

/** An OpenAPI 3.0 schema as far as the generators below read it. */
interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  maxLength?: number;
  required?: string[];
  items?: Schema;
  properties?: Record<string, Schema>;
}

/** Strings past every length limit, up to one past the 100 kB body limit. */
const oversizedString = fc.constantFrom(201, 2_001, 20_000, 110_000).map((n) => 'x'.repeat(n));

/** Characters databases and parsers trip on: NUL, a lone surrogate, quotes, a right-to-left override. */
const hostileCharacters = fc.constantFrom('\u0000', '\ud800', "'", '"', '\\', '%', '\u202e', '\uffff');

/** Anything a client could put in a JSON value, including null bytes and lone surrogates. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  oversizedString,
  fc.constantFrom('', ' ', '\u0000', '0', '-1', 'null', 'true', '1e309', '2025-02-30', '9999-12-31'),
  fc.double(),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
);

const garbagePathSegment = fc.oneof(
  fc.uuid(),
  fc.string({ minLength: 1, maxLength: 60 }),
  fc.constantFrom('0', '-1', '00000000-0000-0000-0000-000000000000', 'null', '..', '%00', 'x'.repeat(300)),
);

function resolve(document: OpenAPIObject, schema: Schema): Schema {
  const name = schema.$ref?.replace('#/components/schemas/', '');
  return name ? (document.components?.schemas?.[name] as Schema) : schema;
}

/** Values a schema accepts (mostly) and values it nearly accepts: dates that do not exist, uuids, enum members. */
function plausibleValue(document: OpenAPIObject, raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolve(document, raw);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date')
        return fc.oneof(
          fc
            .date({ min: new Date('1900-01-01'), max: new Date('2100-12-31'), noInvalidDate: true })
            .map((d) => d.toISOString().slice(0, 10)),
          fc.constantFrom('2025-02-29', '2024-02-29', '0000-01-01', '2025-4-1', '2025-04-15T00:00:00Z'),
        );
      if (schema.format === 'date-time')
        return fc.date().map((d) => (isNaN(d.getTime()) ? 'NaN' : d.toISOString()));
      if (schema.format === 'uuid') return fc.uuid();
      if (schema.format === 'uri') return fc.oneof(fc.webUrl(), fc.string());
      return fc.string({
        unit: fc.oneof(
          { arbitrary: fc.string({ minLength: 1, maxLength: 1 }), weight: 8 },
          hostileCharacters,
        ),
        minLength: 1,
        maxLength: Math.min(schema.maxLength ?? 50, 50),
      });
    case 'integer':
      return fc.integer();
    case 'number':
      return fc.oneof(fc.double(), fc.integer());
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(schema.items ? plausibleValue(document, schema.items) : anyValue, { maxLength: 3 });
    case 'object':
      return shapedObject(document, schema);
    default:
      return anyValue;
  }
}

/**
 * Objects of the schema: its required properties with plausible values (so some get past validation and reach
 * the database), or any subset of its property names holding random values and sometimes unknown ones.
 */
function shapedObject(document: OpenAPIObject, schema: Schema): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(schema.properties ?? {});
  const plausible = fc.record(
    Object.fromEntries(entries.map(([name, property]) => [name, plausibleValue(document, property)])),
    { requiredKeys: schema.required ?? [] },
  );
  const messy = fc
    .tuple(
      fc.record(
        Object.fromEntries(
          entries.map(([name, property]) => [
            name,
            fc.oneof(plausibleValue(document, property), anyValue, fc.constant(null)),
          ]),
        ),
        { requiredKeys: [] },
      ),
      fc.option(fc.dictionary(fc.string({ maxLength: 10 }), anyValue, { maxKeys: 2 }), { freq: 4 }),
    )
    .map(([known, extra]) => ({ ...known, ...extra }));
  return fc.oneof({ arbitrary: plausible, weight: 3 }, { arbitrary: messy, weight: 1 });
}

/** A request body: shaped by the operation's schema most of the time, else any JSON or malformed JSON text. */
function bodies(document: OpenAPIObject, { operation }: DocumentedOperation): fc.Arbitrary<string> {
  const content =
    operation.requestBody && 'content' in operation.requestBody ? operation.requestBody.content : {};
  const schema: Schema | undefined = content['application/json']?.schema;
  return fc
    .oneof(
      { arbitrary: schema ? plausibleValue(document, schema) : anyValue, weight: 6 },
      { arbitrary: fc.jsonValue(), weight: 2 },
      { arbitrary: anyValue, weight: 1 },
    )
    .map((value) => JSON.stringify(value) ?? 'null')
    .chain((json) => fc.oneof({ arbitrary: fc.constant(json), weight: 9 }, fc.constant(json.slice(0, -1))));
}

/** The committed document (the openapi e2e test keeps it equal to the served one): one test per operation. */
const document = JSON.parse(readFileSync(join(__dirname, '..', OPENAPI_FILE), 'utf8')) as OpenAPIObject;
const targets = listOperations(document).filter(({ method }) => method === 'post' || method === 'patch');

describe('random request bodies (fast-check)', () => {
  let t: TestApp;
  let tenantId: string;

  beforeAll(async () => {
    t = await startTestApp();
    ({ tenantId } = await t.signUp('Fuzz Farm'));
  });

  afterAll(() => stopTestApp(t));

  it('finds POST and PATCH operations in the document', () => {
    expect(targets.map(({ method }) => method)).toContain('post');
  });

  it.each(targets.map((target) => [`${target.method.toUpperCase()} ${target.path}`, target] as const))(
    'never answers 5xx to random bodies: %s',
    async (_name, target) => {
      const parameterCount = (target.path.match(/\{/g) ?? []).length;
      const pathParams = fc.array(garbagePathSegment, {
        minLength: parameterCount,
        maxLength: parameterCount,
      });
      await fc.assert(
        fc.asyncProperty(bodies(document, target), pathParams, async (body, segments) => {
          let i = 0;
          const path = target.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(segments[i++]));
          const request = t.http[target.method](path).set('Content-Type', 'application/json');
          if (isTenantOperation(target)) request.set('X-Tenant-ID', tenantId);
          const res = await request.send(body);
          if (res.status >= 500) {
            throw new Error(`${target.method.toUpperCase()} ${path} answered ${res.status}: ${res.text}`);
          }
        }),
        { numRuns: RUNS_PER_OPERATION },
      );
    },
  );
});
