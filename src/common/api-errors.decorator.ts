import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto';

/** What each error status means here; also used for the errors the OpenAPI document declares on every route. */
export const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (the message names the field)',
  403: 'Tenant suspended',
  404: 'Not found',
  409: 'Conflict with existing data',
  413: 'Request body too large',
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
