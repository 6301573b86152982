import {
  BadRequestException,
  HttpException,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

/** JSON bodies above this size are refused with 413. */
const JSON_BODY_LIMIT_KB = 100;

const MESSAGES: Record<string, [string, string]> = {
  'entity.parse.failed': ['Request body is not valid JSON', 'INVALID_JSON'],
  'entity.too.large': [`Request body is too large (limit ${JSON_BODY_LIMIT_KB} kB)`, 'PAYLOAD_TOO_LARGE'],
  'encoding.unsupported': ['Unsupported request body encoding', 'UNSUPPORTED_ENCODING'],
  'charset.unsupported': ['Unsupported request body charset', 'UNSUPPORTED_CHARSET'],
  'request.aborted': ['Request body was not received completely', 'REQUEST_ABORTED'],
};

/**
 * Express error middleware placed right after the body parser: turns its errors (tagged with `type` and a 4xx
 * `status`, or, from the body's decompression stream, a 400 without a `type`) into HttpExceptions with a clear
 * message, before Nest would pass the parser's own wording through.
 */
export function bodyParserErrors(error: unknown, req: Request, _res: Response, next: NextFunction): void {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  if (status === 400 && type === undefined && isEncoded(req)) {
    // The body's decompression stream failed: the parser tags its own errors with a `type`, and gives the stream's
    // (zlib's Z_* codes for gzip and deflate, Brotli's ERR_* codes for br, ...) a 400 only.
    next(
      new BadRequestException({ message: 'Request body could not be decompressed', code: 'MALFORMED_BODY' }),
    );
    return;
  }
  if (typeof type !== 'string' || typeof status !== 'number' || status < 400 || status >= 500) {
    next(error);
    return;
  }
  const [message, errorCode] = MESSAGES[type] ?? ['Malformed request body', 'MALFORMED_BODY'];
  const body = { message, code: errorCode };
  next(
    status === 413
      ? new PayloadTooLargeException(body)
      : status === 400
        ? new BadRequestException(body)
        : new HttpException(body, status),
  );
}

/** Whether the body is sent with a Content-Encoding the parser decompresses (read as body-parser reads it). */
function isEncoded(req: Request): boolean {
  return (req.headers['content-encoding'] || 'identity').toLowerCase() !== 'identity';
}

/** The methods of the routes that take a body (every POST and PATCH route has one). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** `Content-Type: application/json`, with or without parameters (the charset is the parser's to check). */
const JSON_MEDIA_TYPE = /^application\/json[\t ]*(;|$)/i;

/**
 * The JSON parser's `type`: it reads the bodies of POST, PUT and PATCH only, so a GET or DELETE with a body meets
 * none of the parser's errors (400, 413, 415), which the OpenAPI document declares on operations with a body only.
 */
export function isJsonBody(req: Request): boolean {
  return BODY_METHODS.has(req.method) && JSON_MEDIA_TYPE.test(req.headers['content-type'] ?? '');
}

/**
 * Placed after the JSON parser: a POST, PUT or PATCH carrying a body the parser did not take (another or no
 * Content-Type) is refused with 415. Validated as an empty object instead, a PATCH would answer 200 having changed
 * nothing, and a POST would name every field as missing. No body (none announced, or Content-Length: 0) is left to
 * validation; a chunked body of unknown length is a body.
 */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (req.body === undefined && hasBody && BODY_METHODS.has(req.method)) {
    next(
      new UnsupportedMediaTypeException({
        message: 'Request body must be JSON, sent with Content-Type: application/json',
        code: 'UNSUPPORTED_MEDIA_TYPE',
      }),
    );
    return;
  }
  next();
}

/**
 * Options every app is created with: no body parsers of Nest's own, so the JSON parser useJsonBodies adds is the
 * only one (Nest would add a form parser, whose errors and bodies no route expects).
 */
export const APP_OPTIONS = { bodyParser: false } as const;

/**
 * The app's one body parser (JSON, for POST, PUT and PATCH; the app is created with APP_OPTIONS) with its errors
 * and the 415 for other bodies; shared with the bench's baseline app.
 */
export function useJsonBodies(app: NestExpressApplication): void {
  app.useBodyParser('json', { limit: `${JSON_BODY_LIMIT_KB}kb`, type: isJsonBody });
  app.use(bodyParserErrors);
  app.use(requireJsonBody);
}
