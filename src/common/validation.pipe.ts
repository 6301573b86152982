import { ArgumentMetadata, BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

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

/** The path (`notes`, `items.0.name`) of the first string holding a NUL character, which PostgreSQL cannot store. */
export function findNulCharacter(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = findNulCharacter(item, path ? `${path}.${key}` : key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Refuses NUL characters in bodies and query strings before DTO validation: PostgreSQL rejects them in any text
 * column, which would otherwise surface as a 500.
 */
class AppValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const field = metadata.type === 'body' || metadata.type === 'query' ? findNulCharacter(value) : undefined;
    if (field !== undefined) {
      throw new BadRequestException({
        message: `${field || metadata.type} must not contain NUL characters`,
        code: 'VALIDATION_FAILED',
      });
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
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
