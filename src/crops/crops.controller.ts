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
import { CropsService } from './crops.service';
import { CreateCropDto, CropDto, ListCropsQueryDto, UpdateCropDto } from './dto/crop.dto';

@ApiTags('crops')
@TenantRoute()
@Controller('api/crops')
export class CropsController {
  constructor(private readonly crops: CropsService) {}

  @Post()
  @RequireRole('member')
  @HttpCode(201)
  @ApiOperation({ operationId: 'createCrop', summary: 'Add a crop' })
  @ApiCreatedResponse({ type: CropDto, headers: locationHeaderDoc, description: 'The created crop' })
  @ApiErrors({ 400: ['ORGANIZATION_MISMATCH'] })
  async create(@Body() dto: CreateCropDto, @Res({ passthrough: true }) res: Response): Promise<CropDto> {
    const crop = await this.crops.create(dto);
    setLocation(res, `/api/crops/${crop.id}`);
    return CropDto.from(crop);
  }

  @Get()
  @ApiOperation({ operationId: 'listCrops', summary: 'List crops, newest first, with filters' })
  @ApiOkResponse({ type: [CropDto], headers: totalCountHeaderDoc, description: 'A page of crops' })
  @ApiErrors({ 400: ['INVALID_RANGE'] })
  async list(
    @Query() query: ListCropsQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CropDto[]> {
    const [crops, total] = await this.crops.list(query);
    setTotalCount(res, total);
    return crops.map((crop) => CropDto.from(crop));
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getCrop', summary: 'Get a crop' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: CropDto, description: 'The crop' })
  @ApiErrors({ 404: ['CROP_NOT_FOUND'] })
  async get(@UuidParam() id: string): Promise<CropDto> {
    return CropDto.from(await this.crops.get(id));
  }

  @Patch(':id')
  @RequireRole('member')
  @ApiOperation({ operationId: 'updateCrop', summary: 'Change some fields of a crop' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: CropDto, description: 'The updated crop' })
  @ApiErrors({ 404: ['CROP_NOT_FOUND'], 409: ['PLANTING_AFTER_HARVEST'] })
  async update(@UuidParam() id: string, @Body() dto: UpdateCropDto): Promise<CropDto> {
    return CropDto.from(await this.crops.update(id, dto));
  }

  @Delete(':id')
  @RequireRole('member')
  @HttpCode(204)
  @ApiOperation({ operationId: 'deleteCrop', summary: 'Delete a crop that has no harvests' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors({ 404: ['CROP_NOT_FOUND'], 409: ['CROP_HAS_HARVESTS'] })
  async remove(@UuidParam() id: string): Promise<void> {
    await this.crops.remove(id);
  }
}
