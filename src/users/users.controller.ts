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
import { CurrentPrincipal, Principal } from '../auth/principal';
import { ApiErrors } from '../common/api-errors.decorator';
import { UuidParam } from '../common/fields';
import { locationHeaderDoc, setLocation } from '../common/location';
import { PaginationQueryDto, setTotalCount, totalCountHeaderDoc } from '../common/pagination.dto';
import { TenantRoute } from '../tenancy/api-tenant.decorator';
import { CreateUserDto, UpdateUserDto, UserDto } from './dto/user.dto';
import { UsersService } from './users.service';

@ApiTags('users')
@TenantRoute()
@Controller('api/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @RequireRole('admin')
  @HttpCode(201)
  @ApiOperation({ operationId: 'createUser', summary: 'Add a user to the organization' })
  @ApiCreatedResponse({ type: UserDto, headers: locationHeaderDoc, description: 'The created user' })
  @ApiErrors({ 409: ['USER_EMAIL_TAKEN'], 503: ['PASSWORD_CHECKS_BUSY'] })
  async create(
    @Body() dto: CreateUserDto,
    @CurrentPrincipal() caller: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<UserDto> {
    const user = await this.users.create(dto, caller);
    setLocation(res, `/api/users/${user.id}`);
    return UserDto.from(user);
  }

  @Get()
  @ApiOperation({ operationId: 'listUsers', summary: 'List users, newest first' })
  @ApiOkResponse({ type: [UserDto], headers: totalCountHeaderDoc, description: 'A page of users' })
  async list(
    @Query() query: PaginationQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<UserDto[]> {
    const [users, total] = await this.users.list(query.limit, query.offset);
    setTotalCount(res, total);
    return users.map((user) => UserDto.from(user));
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getUser', summary: 'Get a user' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: UserDto, description: 'The user' })
  @ApiErrors({ 404: ['USER_NOT_FOUND'] })
  async get(@UuidParam() id: string): Promise<UserDto> {
    return UserDto.from(await this.users.get(id));
  }

  @Patch(':id')
  @RequireRole('admin')
  @ApiOperation({ operationId: 'updateUser', summary: 'Change some fields of a user' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: UserDto, description: 'The updated user' })
  @ApiErrors({
    404: ['USER_NOT_FOUND'],
    409: ['USER_EMAIL_TAKEN', 'LAST_ADMIN'],
    503: ['PASSWORD_CHECKS_BUSY'],
  })
  async update(
    @UuidParam() id: string,
    @Body() dto: UpdateUserDto,
    @CurrentPrincipal() caller: Principal,
  ): Promise<UserDto> {
    return UserDto.from(await this.users.update(id, dto, caller));
  }

  @Delete(':id')
  @RequireRole('admin')
  @HttpCode(204)
  @ApiOperation({ operationId: 'deleteUser', summary: 'Delete a user' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Deleted; their access tokens stop working' })
  @ApiErrors({ 404: ['USER_NOT_FOUND'], 409: ['LAST_ADMIN'] })
  async remove(@UuidParam() id: string, @CurrentPrincipal() caller: Principal): Promise<void> {
    await this.users.remove(id, caller);
  }
}
