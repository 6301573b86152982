import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { RequireRole } from '../auth/auth.decorators';
import { ApiErrors } from '../common/api-errors.decorator';
import { UuidParam } from '../common/fields';
import { locationHeaderDoc, setLocation } from '../common/location';
import { setTotalCount, totalCountHeaderDoc } from '../common/pagination.dto';
import { TenantRoute } from '../tenancy/api-tenant.decorator';
import { CreateHarvestDto, HarvestDto, ListHarvestsQueryDto, UpdateHarvestDto } from './dto/harvest.dto';
import { HarvestsService } from './harvests.service';

@ApiTags('harvests')
@TenantRoute()
@Controller('api/harvests')
export class HarvestsController {
  constructor(private readonly harvests: HarvestsService) {}

  @Post()
  @RequireRole('member')
  @HttpCode(201)
  @ApiOperation({
    operationId: 'createHarvest',
    summary: 'Record a harvest of a crop',
    description:
      'The crop must belong to the organization (404 otherwise). harvestedAt defaults to today (UTC) and must not ' +
      "be before the crop's plantingDate.",
  })
  @ApiCreatedResponse({ type: HarvestDto, headers: locationHeaderDoc, description: 'The recorded harvest' })
  @ApiErrors({ 400: ['HARVEST_BEFORE_PLANTING'], 404: ['CROP_NOT_FOUND'] })
  async create(
    @Body() dto: CreateHarvestDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<HarvestDto> {
    const harvest = await this.harvests.create(dto);
    setLocation(res, `/api/harvests/${harvest.id}`);
    return HarvestDto.from(harvest);
  }

  @Get()
  @ApiOperation({ operationId: 'listHarvests', summary: 'List harvests, newest first, with filters' })
  @ApiOkResponse({ type: [HarvestDto], headers: totalCountHeaderDoc, description: 'A page of harvests' })
  @ApiErrors({ 400: ['INVALID_RANGE'] })
  async list(
    @Query() query: ListHarvestsQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<HarvestDto[]> {
    const [harvests, total] = await this.harvests.list(query);
    setTotalCount(res, total);
    return harvests.map((harvest) => HarvestDto.from(harvest));
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getHarvest', summary: 'Get a harvest' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: HarvestDto, description: 'The harvest' })
  @ApiErrors({ 404: ['HARVEST_NOT_FOUND'] })
  async get(@UuidParam() id: string): Promise<HarvestDto> {
    return HarvestDto.from(await this.harvests.get(id));
  }

  @Patch(':id')
  @RequireRole('member')
  @ApiOperation({ operationId: 'updateHarvest', summary: 'Change some fields of a harvest' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: HarvestDto, description: 'The updated harvest' })
  @ApiErrors({ 400: ['HARVEST_BEFORE_PLANTING'], 404: ['HARVEST_NOT_FOUND', 'CROP_NOT_FOUND'] })
  async update(@UuidParam() id: string, @Body() dto: UpdateHarvestDto): Promise<HarvestDto> {
    return HarvestDto.from(await this.harvests.update(id, dto));
  }

  @Delete(':id')
  @RequireRole('member')
  @HttpCode(204)
  @ApiOperation({ operationId: 'deleteHarvest', summary: 'Delete a harvest' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors({ 404: ['HARVEST_NOT_FOUND'] })
  async remove(@UuidParam() id: string): Promise<void> {
    await this.harvests.remove(id);
  }
}
