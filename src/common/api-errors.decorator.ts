import { ApiExtension } from '@nestjs/swagger';

/** What each error status means here: the description of each error response the OpenAPI document declares. */
export const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: the message names the field or the problem',
  401: 'Missing, malformed, expired or revoked credentials, or a wrong email or password at login (WWW-Authenticate: Bearer)',
  403: 'Authenticated but not allowed: a token of another organization, a role too weak for the route, the platform token on a route about the calling user, or a wrong current password',
  404: 'Not found',
  409: 'Conflict with existing data',
  413: 'Request body too large',
  415: 'Request body not sent as JSON (Content-Type: application/json), or in an unsupported charset or encoding',
  429: 'Too many attempts; retry after the number of seconds in Retry-After',
  500: 'Unexpected server error',
  503: 'Temporarily unavailable',
};

/** Error `code`s by HTTP status. */
export type ErrorCodes = Partial<Record<number, readonly string[]>>;

/** The OpenAPI extension carrying a route's own error codes until `buildOpenApiDocument` turns them into responses. */
export const ERROR_CODES_EXTENSION = 'x-error-codes';

/**
 * The error codes a route's own work answers (a missing crop, a taken email), by status. Those it answers for what
 * it is (a tenant route, a route with a body or a query, one needing a role) are added by `buildOpenApiDocument`,
 * which declares each status with its codes as an enum.
 */
export function ApiErrors(codes: ErrorCodes): MethodDecorator {
  return ApiExtension(ERROR_CODES_EXTENSION, codes);
}
