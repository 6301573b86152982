import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../common/api-errors.decorator';
import { UuidParam } from '../common/fields';
import { PaginationQueryDto, setTotalCount, totalCountHeaderDoc } from '../common/pagination.dto';
import { TenantRoute } from '../tenancy/api-tenant.decorator';
import { HarvestDto } from './dto/harvest.dto';
import { HarvestsService } from './harvests.service';

/** The harvests of one crop, under the crop's path. */
@ApiTags('crops')
@TenantRoute()
@Controller('api/crops')
export class CropHarvestsController {
  constructor(private readonly harvests: HarvestsService) {}

  @Get(':id/harvests')
  @ApiOperation({ operationId: 'listCropHarvests', summary: "List a crop's harvests, newest first" })
  @ApiParam({ name: 'id', format: 'uuid', description: 'The crop id' })
  @ApiOkResponse({
    type: [HarvestDto],
    headers: totalCountHeaderDoc,
    description: "A page of the crop's harvests",
  })
  @ApiErrors({ 404: ['CROP_NOT_FOUND'] })
  async list(
    @UuidParam() id: string,
    @Query() page: PaginationQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<HarvestDto[]> {
    const [harvests, total] = await this.harvests.listForCrop(id, page);
    setTotalCount(res, total);
    return harvests.map((harvest) => HarvestDto.from(harvest));
  }
}
