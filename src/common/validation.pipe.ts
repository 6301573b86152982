import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

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

/** DTO validation for every route: unknown fields rejected, values transformed to the DTO's types. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) =>
      new BadRequestException({ message: messages(errors).join('; '), code: 'VALIDATION_FAILED' }),
  });
}
