import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import type { Response } from 'express';

/** No list goes this deep; a larger offset is refused (400) rather than sent to PostgreSQL. */
const MAX_OFFSET = 1_000_000_000;

/** `limit`/`offset` for every list route; the total goes in the `X-Total-Count` header. */
export class PaginationQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200, default: 50, description: 'Page size' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit: number = 50;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX_OFFSET,
    default: 0,
    description: 'Items to skip',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_OFFSET)
  offset: number = 0;
}

export const TOTAL_COUNT_HEADER = 'X-Total-Count';

export const totalCountHeaderDoc = {
  [TOTAL_COUNT_HEADER]: {
    description: 'Total number of items matching the query',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
};

export function setTotalCount(response: Response, total: number): void {
  response.setHeader(TOTAL_COUNT_HEADER, String(total));
}
