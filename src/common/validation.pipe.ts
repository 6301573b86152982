import { ArgumentMetadata, BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';

/** Flattens nested class-validator errors into messages that name the field (`owner.email must be an email`). */
function messages(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((m) =>
      parent && m.startsWith(error.property) ? `${parent}.${m}` : m,
    );
    return [...own, ...messages(error.children ?? [], path)];
  });
}

/**
 * Text no route can accept: PostgreSQL cannot store NUL, and a lone surrogate is no Unicode at all (it makes
 * validator's isEmail throw, and would be stored as U+FFFD).
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_TEXT: Array<[(text: string) => boolean, string]> = [
  [(text) => text.includes('\u0000'), 'must not contain NUL characters'],
  [(text) => LONE_SURROGATE.test(text), 'must be well-formed Unicode'],
];

/** Deeper JSON is refused before anything recurses into it (no DTO nests anywhere near this). */
const MAX_DEPTH = 32;

/**
 * The first part of a body or query no route can take: a string holding unstorable text, or a key named like a
 * member of Object.prototype (`toString`, `valueOf`, `__proto__`, …). class-transformer skips a key that names a
 * function on the DTO (or sets `__proto__` as its prototype) without a word, so the whitelist never sees it; request
 * DTOs have no methods or getters of their own, so Object.prototype's are the names at stake. Its path (`notes`,
 * `items.0.name`, '' for the value itself) and why.
 */
export function findRefusedInput(
  value: unknown,
  path = '',
  depth = 0,
): { path: string; problem: string } | undefined {
  if (depth > MAX_DEPTH) return { path, problem: `is nested more than ${MAX_DEPTH} levels deep` };
  if (typeof value === 'string') {
    const problem = UNSTORABLE_TEXT.find(([isFound]) => isFound(value))?.[1];
    return problem ? { path, problem } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const itemPath = path ? `${path}.${key}` : key;
    if (key in Object.prototype) return { path: itemPath, problem: 'should not exist' };
    const found = findRefusedInput(item, itemPath, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * Refuses unstorable text in bodies and query strings before DTO validation, which would otherwise end in a 500, and
 * the keys it would let through.
 */
class AppValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const found = metadata.type === 'body' || metadata.type === 'query' ? findRefusedInput(value) : undefined;
    if (found) {
      throw new BadRequestException({
        message: `${found.path || metadata.type} ${found.problem}`,
        code: 'VALIDATION_FAILED',
      });
    }
    const input =
      metadata.type === 'query' && metadata.metatype ? withoutBlanks(value, metadata.metatype) : value;
    return super.transform(input, metadata) as Promise<unknown>;
  }
}

/** The validated properties of each query DTO. */
const queryProperties = new WeakMap<object, Set<string>>();

function propertiesOf(dto: object): Set<string> {
  let properties = queryProperties.get(dto);
  if (!properties) {
    const rules = getMetadataStorage().getTargetValidationMetadatas(
      dto as new () => object,
      '',
      false,
      false,
    );
    properties = new Set(rules.map((rule) => rule.propertyName));
    queryProperties.set(dto, properties);
  }
  return properties;
}

/**
 * A query parameter of the DTO sent empty or blank (`?name=&from=`, a form's empty search box) counts as not sent: a
 * filter left unset, a page size at its default. A parameter the DTO lacks stays, for the whitelist to refuse.
 */
function withoutBlanks(query: unknown, dto: object): unknown {
  if (query === null || typeof query !== 'object') return query;
  const properties = propertiesOf(dto);
  return Object.fromEntries(
    Object.entries(query).filter(
      ([key, item]) => !(properties.has(key) && typeof item === 'string' && item.trim() === ''),
    ),
  );
}

/** DTO validation for every route: unknown fields rejected, values transformed to the DTO's types. */
export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) =>
      new BadRequestException({ message: messages(errors).join('; '), code: 'VALIDATION_FAILED' }),
  });
}
