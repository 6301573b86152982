import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto';

/** What each error status means here; also used for the errors the OpenAPI document declares on every route. */
export const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (the message names the field)',
  401: 'Missing, malformed, expired or revoked credentials (WWW-Authenticate: Bearer)',
  403: 'Authenticated but not allowed: a token of another tenant, or a role too weak for the route',
  404: 'Not found',
  409: 'Conflict with existing data',
  413: 'Request body too large',
  429: 'Too many attempts; retry after the number of seconds in Retry-After',
  500: 'Unexpected server error',
  503: 'Temporarily unavailable',
};

/** Documents the error responses a route can return, all with the common error schema. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: ERROR_DESCRIPTIONS[status] ?? 'Error', type: ErrorResponseDto }),
    ),
  );
}
