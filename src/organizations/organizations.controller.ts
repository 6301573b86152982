import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { OpenSignupRoute, PLATFORM_ADMIN_SCHEME } from '../auth/auth.decorators';
import { ControlPlaneRequest, PlatformAdminGuard } from '../auth/platform-admin.guard';
import { ApiErrors } from '../common/api-errors.decorator';
import { locationHeaderDoc, setLocation } from '../common/location';
import { PaginationQueryDto, setTotalCount, totalCountHeaderDoc } from '../common/pagination.dto';
import { CreateOrganizationDto } from './dto/create-organization.dto';
import { OrganizationDto } from './dto/organization.dto';
import { OrganizationsService } from './organizations.service';

@ApiTags('organizations')
@UseGuards(PlatformAdminGuard)
@ApiBearerAuth(PLATFORM_ADMIN_SCHEME)
@Controller('organizations')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Post()
  @HttpCode(201)
  @OpenSignupRoute()
  @ApiSecurity({})
  @ApiOperation({
    operationId: 'createOrganization',
    summary: 'Sign up an organization',
    description:
      'Registers the organization and creates its tenant database; answers once the database exists and is ' +
      'migrated (status `active`), with the owner (if given) as its first admin. Repeating the request after a ' +
      'failed sign-up finishes it. Needs the platform token unless the server runs with SIGNUP_MODE=open; ' +
      'without the token, owner is required.',
  })
  @ApiCreatedResponse({
    type: OrganizationDto,
    headers: locationHeaderDoc,
    description:
      'Created; its tenant database is ready (Location, GET /organizations/{id}, needs the platform token)',
  })
  @ApiErrors({
    400: ['OWNER_REQUIRED', 'ORGANIZATION_NAME_INVALID'],
    409: ['SIGNUP_IN_PROGRESS', 'ORGANIZATION_NAME_TAKEN', 'TENANT_ID_TAKEN', 'TENANT_DATABASE_EXISTS'],
    503: ['PROVISIONING_FAILED', 'SIGNUP_TAKEN_OVER', 'PASSWORD_CHECKS_BUSY'],
  })
  async create(
    @Body() dto: CreateOrganizationDto,
    @Req() req: ControlPlaneRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OrganizationDto> {
    const byOperator = req.platformOperator === true;
    const organization = await this.organizations.create(dto, { byOperator });
    setLocation(res, `/organizations/${organization.id}`);
    return OrganizationDto.from(organization);
  }

  @Get()
  @ApiOperation({ operationId: 'listOrganizations', summary: 'List organizations, newest first' })
  @ApiOkResponse({
    type: [OrganizationDto],
    headers: totalCountHeaderDoc,
    description: 'A page of organizations',
  })
  async list(
    @Query() query: PaginationQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OrganizationDto[]> {
    const [organizations, total] = await this.organizations.list(query.limit, query.offset);
    setTotalCount(res, total);
    return organizations.map((org) => OrganizationDto.from(org));
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getOrganization', summary: 'Get an organization by id or tenant id' })
  @ApiParam({
    name: 'id',
    description: 'The organization id (uuid) or its tenant id',
    example: 'green-valley-co-op',
  })
  @ApiOkResponse({ type: OrganizationDto, description: 'The organization' })
  @ApiErrors({ 404: ['ORGANIZATION_NOT_FOUND'] })
  async get(@Param('id') id: string): Promise<OrganizationDto> {
    return OrganizationDto.from(await this.organizations.get(id));
  }
}
