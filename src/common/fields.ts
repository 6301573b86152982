import { applyDecorators, BadRequestException, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptions } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsEmail,
  IsIn,
  IsNumber,
  IsOptional,
  IsPositive,
  IsString,
  IsUUID,
  Matches,
  Max,
  ValidateBy,
  ValidateIf,
} from 'class-validator';
import { IsCalendarDate } from './is-calendar-date.decorator';

/**
 * Field decorators shared by request DTOs: each one carries the OpenAPI description and the validation rules, so a
 * create DTO and its PATCH counterpart state a rule once. `required: false` makes a field optional (absent is
 * fine, null is not); `nullable: true` also lets null through (PATCH uses it to clear an optional field).
 */
export interface FieldOptions {
  required?: boolean;
  nullable?: boolean;
  description?: string;
  example?: unknown;
  /** The value the route uses when the field is absent (documentation only). */
  default?: unknown;
}

function presence({ required = true, nullable = false }: FieldOptions): PropertyDecorator[] {
  if (nullable) return [IsOptional()];
  if (!required) return [ValidateIf((_object, value) => value !== undefined)];
  return [];
}

/** The field's description followed by a note on how the field is read. */
function withNote(options: FieldOptions, note: string): FieldOptions {
  const own = options.description?.replace(/\.$/, '');
  return { ...options, description: own ? `${own}. ${note}` : note };
}

function doc(options: FieldOptions, schema: ApiPropertyOptions): PropertyDecorator {
  return ApiProperty({
    ...schema,
    required: options.required ?? true,
    ...(options.nullable ? { nullable: true } : {}),
    ...(options.description ? { description: options.description } : {}),
    ...(options.example !== undefined ? { example: options.example } : {}),
    ...(options.default !== undefined ? { default: options.default } : {}),
  } as ApiPropertyOptions);
}

/** Characters as PostgreSQL's varchar(n) and JSON Schema's minLength / maxLength count them: code points. */
export function codePoints(text: string): number {
  return [...text].length;
}

/**
 * At least `min` characters, counted as `codePoints` does. class-validator's MinLength / MaxLength count a
 * variation selector (U+FE0E, U+FE0F) as nothing, so a name within their limit could still be too long for its
 * column (a 500) and a password shorter than the document says.
 */
export function MinChars(
  min: number,
  message = `$property must be longer than or equal to ${min} characters`,
  { composed = false } = {},
): PropertyDecorator {
  return ValidateBy({
    name: 'minLength',
    constraints: [min],
    validator: {
      // A code point is one or two UTF-16 units: only a string near the limit needs counting. `composed` counts the
      // value as NFC makes it (a password is hashed so: "e" and an accent are one character).
      validate: (value) =>
        typeof value === 'string' &&
        (composed
          ? codePoints(value.normalize('NFC')) >= min
          : value.length >= 2 * min || codePoints(value) >= min),
      defaultMessage: () => message,
    },
  });
}

/** At most `max` characters, counted as `codePoints` does (see MinChars). */
export function MaxChars(max: number): PropertyDecorator {
  return ValidateBy({
    name: 'maxLength',
    constraints: [max],
    validator: {
      validate: (value) => typeof value === 'string' && (value.length <= max || codePoints(value) <= max),
      defaultMessage: () => `$property must be shorter than or equal to ${max} characters`,
    },
  });
}

/**
 * Trims a string and composes it (Unicode NFC): a name sent with a combining accent ("E\u0301") is stored, compared
 * and kept unique as the same name sent precomposed ("\u00c9").
 */
const trim = Transform(({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.normalize('NFC').trim() : value,
);

/** A string holding something besides white space: what is left of it after trimming is not empty. */
const NOT_BLANK = /\S/;

/**
 * A trimmed, non-empty string of at most `max` characters; with `mustMatch`, one that also holds a match of its
 * pattern (the OpenAPI document states that pattern instead of the non-blank one).
 */
export function TextField(
  max: number,
  options: FieldOptions & { mustMatch?: { pattern: RegExp; message: string } } = {},
): PropertyDecorator {
  const { mustMatch } = options;
  return applyDecorators(
    doc(withNote(options, 'Trimmed and composed (Unicode NFC) before its length is counted.'), {
      type: String,
      minLength: 1,
      maxLength: max,
      pattern: (mustMatch?.pattern ?? NOT_BLANK).source,
    }),
    trim,
    ...presence(options),
    IsString(),
    MinChars(1),
    MaxChars(max),
    ...(mustMatch ? [Matches(mustMatch.pattern, { message: mustMatch.message })] : []),
  );
}

/**
 * An email address as OpenAPI's `email` format means it (RFC 5321, ASCII, no quoted local part): validator's
 * isEmail alone also takes non-ASCII addresses and quoted local parts (`"x"@example.com`), which generated clients
 * checking the format (ajv-formats, zod) would then refuse in our responses.
 */
export function EmailField(options: FieldOptions = {}): PropertyDecorator {
  return applyDecorators(
    doc(options, { type: String, format: 'email', maxLength: 254 }),
    trim,
    ...presence(options),
    IsString(),
    MaxChars(254),
    Matches(/^[\x21\x23-\x7e]*$/, {
      message: '$property must be an email address of ASCII characters, without quotes',
    }),
    IsEmail({}, { message: '$property must be an email address' }),
  );
}

/** New passwords need at least this many characters. */
export const PASSWORD_MIN_LENGTH = 10;

/**
 * A password, taken exactly as sent (no trimming), at most 1024 characters so hashing stays cheap. `minLength`
 * defaults to the rule for new passwords; login uses 1 (an old password is checked, not judged). Error messages
 * never include the value.
 */
export function PasswordField(options: FieldOptions & { minLength?: number } = {}): PropertyDecorator {
  const min = options.minLength ?? PASSWORD_MIN_LENGTH;
  return applyDecorators(
    doc(
      withNote(options, 'Counted and hashed composed (Unicode NFC): é is one character, typed either way.'),
      { type: String, format: 'password', minLength: min, maxLength: 1024, writeOnly: true },
    ),
    ...presence(options),
    IsString(),
    MinChars(min, `$property must be at least ${min} characters long`, { composed: true }),
    MaxChars(1024),
  );
}

/** A calendar date, `YYYY-MM-DD`. */
export function DateField(options: FieldOptions = {}): PropertyDecorator {
  return applyDecorators(
    doc(options, { type: String, format: 'date' }),
    ...presence(options),
    IsCalendarDate(),
  );
}

/** A UUID as OpenAPI's `uuid` format and a path id (`UuidParam`) take it: any hex digits in the 8-4-4-4-12 layout. */
export function UuidField(options: FieldOptions = {}): PropertyDecorator {
  return applyDecorators(
    doc(options, { type: String, format: 'uuid' }),
    ...presence(options),
    IsUUID('loose'),
  );
}

/** One of a named enum's values (`enumName`: the enum's one schema in the OpenAPI document). */
export function EnumField(
  { enum: values, enumName }: { enum: readonly string[]; enumName: string },
  options: FieldOptions = {},
): PropertyDecorator {
  return applyDecorators(
    doc(options, { enum: values as string[], enumName }),
    ...presence(options),
    IsIn(values, { message: `$property must be one of: ${values.join(', ')}` }),
  );
}

/**
 * True for finite numbers with at most `decimals` decimal places. class-validator's `maxDecimalPlaces` throws on
 * numbers it prints with an exponent (1e-7), so this compares with the value rounded instead.
 */
export function hasAtMostDecimals(value: unknown, decimals: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && Number(value.toFixed(decimals)) === value;
}

/** A JSON number greater than 0, at most `max`, with at most `decimals` decimal places. */
export function PositiveDecimalField(
  max: number,
  decimals: number,
  options: FieldOptions = {},
): PropertyDecorator {
  return applyDecorators(
    doc(
      { description: `Greater than 0, at most ${decimals} decimals`, ...options },
      { type: Number, exclusiveMinimum: true, minimum: 0, maximum: max },
    ),
    ...presence(options),
    IsNumber({ allowNaN: false, allowInfinity: false }),
    ValidateBy({
      name: 'hasAtMostDecimals',
      validator: {
        validate: (value) => hasAtMostDecimals(value, decimals),
        defaultMessage: () => `$property must be a number with at most ${decimals} decimal places`,
      },
    }),
    IsPositive(),
    Max(max),
  );
}

/** A `:id` path parameter that must be a UUID (400 otherwise). */
export function UuidParam(name = 'id'): ParameterDecorator {
  return Param(
    name,
    new ParseUUIDPipe({
      exceptionFactory: () =>
        new BadRequestException({ message: `${name} must be a UUID`, code: 'INVALID_ID' }),
    }),
  );
}
