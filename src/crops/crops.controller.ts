import { Body, Controller, Get, HttpCode, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../common/api-errors.decorator';
import { PaginationQueryDto, setTotalCount, totalCountHeaderDoc } from '../common/pagination.dto';
import { TenantRoute } from '../tenancy/api-tenant.decorator';
import { CropsService } from './crops.service';
import { CreateCropDto } from './dto/create-crop.dto';
import { CropDto } from './dto/crop.dto';

@ApiTags('crops')
@TenantRoute()
@Controller('api/crops')
export class CropsController {
  constructor(private readonly crops: CropsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ operationId: 'createCrop', summary: 'Add a crop' })
  @ApiCreatedResponse({ type: CropDto, description: 'The created crop' })
  @ApiErrors(400, 413)
  async create(@Body() dto: CreateCropDto): Promise<CropDto> {
    return CropDto.from(await this.crops.create(dto));
  }

  @Get()
  @ApiOperation({ operationId: 'listCrops', summary: 'List crops, newest first' })
  @ApiOkResponse({ type: [CropDto], headers: totalCountHeaderDoc, description: 'A page of crops' })
  async list(
    @Query() query: PaginationQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CropDto[]> {
    const [crops, total] = await this.crops.list(query.limit, query.offset);
    setTotalCount(res, total);
    return crops.map((crop) => CropDto.from(crop));
  }
}
