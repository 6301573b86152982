import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto';

/** What each error status means here; also used for the errors the OpenAPI document declares on every route. */
export const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (the message names the field)',
  401: 'Missing, malformed, expired or revoked credentials (WWW-Authenticate: Bearer)',
  403: 'Authenticated but not allowed: a token of another organization, a role too weak for the route, the platform token on a route about the calling user, or a wrong current password',
  404: 'Not found',
  409: 'Conflict with existing data',
  413: 'Request body too large',
  415: 'Request body not sent as JSON (Content-Type: application/json), or in an unsupported charset or encoding',
  429: 'Too many attempts; retry after the number of seconds in Retry-After',
  500: 'Unexpected server error',
  503: 'Temporarily unavailable',
};

type ErrorHeaders = Record<string, { description: string; schema: { type: 'string' | 'integer' } }>;

/** Response headers that come with some error statuses. */
const ERROR_HEADERS: Record<number, ErrorHeaders> = {
  401: { 'WWW-Authenticate': { description: 'Always `Bearer`', schema: { type: 'string' } } },
  429: {
    'Retry-After': { description: 'Seconds until a new attempt may succeed', schema: { type: 'integer' } },
  },
};

/** Documents the error responses a route can return, all with the common error schema. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => errorResponse(status, ERROR_HEADERS[status])));
}

/**
 * A 503 that may say when to retry: a tenant route's (its database failed to open: refused for a while), and any
 * route that checks or hashes a password (too many under way: PASSWORD_CHECKS_BUSY).
 */
export function ApiUnavailableRetryAfter(): MethodDecorator & ClassDecorator {
  return errorResponse(503, {
    'Retry-After': {
      description:
        "Seconds until a new attempt may succeed, when known (a tenant's database that failed to open, too many " +
        'password checks under way)',
      schema: { type: 'integer' },
    },
  });
}

function errorResponse(status: number, headers: ErrorHeaders | undefined): MethodDecorator & ClassDecorator {
  return ApiResponse({
    status,
    description: ERROR_DESCRIPTIONS[status] ?? 'Error',
    type: ErrorResponseDto,
    ...(headers ? { headers } : {}),
  });
}
