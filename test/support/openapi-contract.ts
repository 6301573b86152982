import parseurl from 'parseurl';
import type { OpenAPIObject } from '@nestjs/swagger';
import type {
  HeaderObject,
  ReferenceObject,
  ResponseObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { NextFunction, Request, Response } from 'express';
import type { DocumentedOperation } from '../../src/openapi';
import { operationMatcher } from './openapi-operations';

/** Paths that serve the document itself (Swagger UI and /docs-json) rather than the API it describes. */
const DOCS_PATH = /^\/docs(-json|\/|$)/;
/**
 * Tenant paths: the body parser and the tenant middleware answer before Nest routes a request, so one that no
 * operation serves may get their refusals, told by their codes: a body refused (not JSON, too large, not sent as
 * JSON), a tenant id missing or malformed, no valid credentials for the tenant, a tenant unavailable, the control
 * plane's lookup failing, the app shutting down. Any other answer there but 404 comes from a route the document
 * lacks.
 */
const TENANT_PATH = /^\/api\//i;
const ANSWERED_BEFORE_ROUTING = new Set([
  'INVALID_JSON',
  'MALFORMED_BODY',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNSUPPORTED_CHARSET',
  'UNSUPPORTED_ENCODING',
  'REQUEST_ABORTED',
  'TENANT_REQUIRED',
  'TENANT_ID_MALFORMED',
  'TENANT_PROVISIONING',
  'TENANT_PROVISIONING_FAILED',
  'TENANT_UNAVAILABLE',
  'TENANT_CAPACITY',
  'AUTH_REQUIRED',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TENANT_MISMATCH',
  'DATABASE_UNAVAILABLE',
  'QUERY_TIMEOUT',
  'SHUTTING_DOWN',
]);
/** Operational routes kept out of the public document on purpose (`@ApiExcludeController`, off by default). */
const UNDOCUMENTED_PATH = /^\/internal\//;

/**
 * Checks every response an e2e app sends against the app's own OpenAPI document: the operation (method + path
 * template) must exist, the status must be declared for it, and a JSON body must match the declared schema.
 * Responses from middleware, guards and filters pass through here too. Violations are collected, not thrown, so
 * the test that caused them still runs; stopTestApp fails the suite with the list.
 */
export class OpenApiContract {
  readonly violations: string[] = [];
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly findOperation: ReturnType<typeof operationMatcher>;

  constructor(private readonly document: OpenAPIObject) {
    addFormats(this.ajv);
    this.findOperation = operationMatcher(document);
  }

  /** Express middleware: install it before anything that can answer a request. */
  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    let body: unknown;
    const send = res.send.bind(res);
    res.send = (payload?: unknown) => {
      body = payload;
      return send(payload);
    };
    res.once('finish', () => this.check(req, res, body));
    next();
  };

  private check(req: Request, res: Response, payload: unknown): void {
    // The path as the router saw it (Express's parser: an absolute URL's path, `..` segments kept as sent).
    const path = parseurl.original(req)?.pathname ?? '';
    if (DOCS_PATH.test(path) || UNDOCUMENTED_PATH.test(path)) return;
    // CORS preflights are answered by the cors middleware for any path; OpenAPI does not describe them.
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) return;
    const where = `${req.method} ${req.originalUrl} -> ${res.statusCode}`;
    const found = this.findOperation(req.method, path);
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString() : '';
    if (!found) {
      const beforeRouting = TENANT_PATH.test(path) && ANSWERED_BEFORE_ROUTING.has(errorCode(text));
      if (res.statusCode !== 404 && !beforeRouting)
        this.violations.push(`${where}: no operation in the document serves it`);
      return;
    }
    const label = `${where} (${found.operation.operationId ?? `${found.method} ${found.path}`})`;
    const status = String(res.statusCode);
    const response = found.operation.responses[status] ?? found.operation.responses[`${status[0]}XX`];
    if (!response) {
      this.violations.push(
        `${label}: status ${status} is not declared (declared: ${Object.keys(found.operation.responses).join(', ')})`,
      );
      return;
    }
    this.checkHeaders(label, found, status, response, res);
    const schema = 'content' in response ? response.content?.['application/json']?.schema : undefined;
    if (!schema) {
      if (text !== '') this.violations.push(`${label}: answered a body, the document declares none`);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.violations.push(`${label}: the body is not JSON: ${excerpt(text)}`);
      return;
    }
    const validate = this.validator(found, status, schema);
    if (!validate(json)) {
      const errors = (validate.errors ?? [])
        .map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}`.trim())
        .join('; ');
      this.violations.push(`${label}: the body does not match the schema: ${errors}; body: ${excerpt(text)}`);
    }
  }

  /**
   * The response's headers against those the document declares for it: a required one must be sent, and one sent
   * must match its schema (a header's value is text: a number where the schema wants an integer).
   */
  private checkHeaders(
    label: string,
    found: DocumentedOperation,
    status: string,
    response: ResponseObject | ReferenceObject,
    res: Response,
  ): void {
    if ('$ref' in response) return;
    for (const [name, declared] of Object.entries(response.headers ?? {})) {
      const header = '$ref' in declared ? this.componentHeader(declared.$ref) : declared;
      const sent = res.getHeader(name);
      if (sent === undefined) {
        if (header.required) this.violations.push(`${label}: the required header ${name} was not sent`);
        continue;
      }
      if (!header.schema) continue;
      const text = String(sent);
      const value = /^-?\d+$/.test(text) ? Number(text) : text;
      const validate = this.validator(found, `${status} ${name}`, header.schema);
      const asDeclared = validate(value) || (typeof value === 'number' && validate(text));
      if (!asDeclared)
        this.violations.push(`${label}: the header ${name}: ${text} does not match its schema`);
    }
  }

  private componentHeader(ref: string): HeaderObject {
    const header = this.document.components?.headers?.[ref.replace('#/components/headers/', '')];
    if (!header || '$ref' in header) throw new Error(`${ref}: no such header in the document`);
    return header;
  }

  /**
   * One compiled validator per operation and status, or status and header (`what`); `$ref`s resolve against the
   * document's components.
   */
  private validator(found: DocumentedOperation, what: string, schema: object): ValidateFunction {
    const key = `${found.method} ${found.path} ${what}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(
        toJsonSchema({ components: this.document.components, allOf: [schema] }) as object,
      );
      this.validators.set(key, validate);
    }
    return validate;
  }
}

/**
 * OpenAPI 3.0 schemas are JSON Schema apart from a few keywords. Ajv understands `nullable` with `type`; an
 * `enum` of a nullable property must list null itself.
 */
function toJsonSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toJsonSchema);
  if (value === null || typeof value !== 'object') return value;
  const schema = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSchema(v)]));
  if (schema.nullable === true && Array.isArray(schema.enum) && !schema.enum.includes(null)) {
    schema.enum = [...(schema.enum as unknown[]), null];
  }
  return schema;
}

function excerpt(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Fails with the recorded violations, one per line (the first 50; the same one once). */
export function assertNoContractViolations(contract: OpenApiContract): void {
  const { violations } = contract;
  if (violations.length === 0) return;
  const distinct = [...new Set(violations)];
  const shown = distinct.slice(0, 50).map((v) => `  - ${v}`);
  if (distinct.length > shown.length) shown.push(`  … and ${distinct.length - shown.length} more`);
  throw new Error(`${violations.length} response(s) broke the OpenAPI document:\n${shown.join('\n')}`);
}

/** The `code` of an error body as sent, or '' when it has none. */
function errorCode(text: string): string {
  try {
    const { code } = JSON.parse(text) as { code?: unknown };
    return typeof code === 'string' ? code : '';
  } catch {
    return '';
  }
}
