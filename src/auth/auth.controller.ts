import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator';
import { TenantRoute } from '../tenancy/api-tenant.decorator';
import { UserDto } from '../users/dto/user.dto';
import { RequireRole } from './auth.decorators';
import { AuthService } from './auth.service';
import { AccessTokenDto, ChangePasswordDto, LoginDto } from './dto/auth.dto';
import { CurrentPrincipal, Principal } from './principal';

@ApiTags('auth')
@TenantRoute({ auth: 'none' })
@Controller('api/auth')
export class LoginController {
  constructor(private readonly auth: AuthService) {}

  @Post('login')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'login',
    summary: 'Log in to the organization',
    description:
      "Exchanges a user's email and password for an access token bound to this organization. A wrong email and " +
      'a wrong password answer alike (401); after 5 failures for one email within 15 minutes, 429 until the ' +
      'oldest of them is 15 minutes old. Attempts count from their start: beyond 5 at once, 429 with ' +
      'Retry-After: 1 while some are still being checked.',
  })
  @ApiOkResponse({ type: AccessTokenDto, description: 'Logged in' })
  @ApiErrors({ 401: ['INVALID_CREDENTIALS'], 429: ['LOGIN_LOCKED'], 503: ['PASSWORD_CHECKS_BUSY'] })
  login(@Body() dto: LoginDto): Promise<AccessTokenDto> {
    return this.auth.login(dto);
  }
}

@ApiTags('auth')
@TenantRoute({ auth: 'user' })
@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Get('me')
  @ApiOperation({ operationId: 'getCurrentUser', summary: 'The user the access token belongs to' })
  @ApiOkResponse({ type: UserDto, description: 'The calling user' })
  me(@CurrentPrincipal() principal: Principal): UserDto {
    return UserDto.from(this.auth.userOf(principal));
  }

  @Post('password')
  @HttpCode(200)
  @RequireRole('viewer')
  @ApiOperation({
    operationId: 'changePassword',
    summary: "Change the calling user's password",
    description:
      'Needs the current password (its checks count toward the login lockout, as logins do: 429 while locked, with ' +
      'Retry-After: 1 while the checks that lock it are still under way). Tokens issued before stop working; the ' +
      'answer carries a new one.',
  })
  @ApiOkResponse({ type: AccessTokenDto, description: 'Changed; a new access token' })
  @ApiErrors({ 403: ['PASSWORD_WRONG'], 429: ['LOGIN_LOCKED'], 503: ['PASSWORD_CHECKS_BUSY'] })
  changePassword(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: ChangePasswordDto,
  ): Promise<AccessTokenDto> {
    return this.auth.changePassword(principal, dto);
  }
}
