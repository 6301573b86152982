import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import type { Response } from 'express';

/** `limit`/`offset` for every list route; the total goes in the `X-Total-Count` header. */
export class PaginationQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50, description: 'Page size' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit: number = 50;

  @ApiPropertyOptional({ minimum: 0, default: 0, description: 'Items to skip' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  offset: number = 0;
}

export const TOTAL_COUNT_HEADER = 'X-Total-Count';

export const totalCountHeaderDoc = {
  [TOTAL_COUNT_HEADER]: {
    description: 'Total number of items matching the query',
    schema: { type: 'integer' },
  },
};

export function setTotalCount(response: Response, total: number): void {
  response.setHeader(TOTAL_COUNT_HEADER, String(total));
}
