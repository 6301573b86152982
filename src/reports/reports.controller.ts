import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator';
import { TenantRoute } from '../tenancy/api-tenant.decorator';
import { HarvestSummaryQueryDto, HarvestSummaryRowDto } from './dto/harvest-summary.dto';
import { ReportsService } from './reports.service';

@ApiTags('reports')
@TenantRoute()
@Controller('api/reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Get('harvest-summary')
  @ApiOperation({
    operationId: 'getHarvestSummary',
    summary: 'Harvest totals per crop and unit',
    description:
      'One row per crop and unit over the harvests in the optional date range, ordered by crop name (ignoring case).',
  })
  @ApiOkResponse({ type: [HarvestSummaryRowDto], description: 'The summary rows' })
  @ApiErrors({ 400: ['INVALID_RANGE'] })
  harvestSummary(@Query() query: HarvestSummaryQueryDto): Promise<HarvestSummaryRowDto[]> {
    return this.reports.harvestSummary(query);
  }
}
