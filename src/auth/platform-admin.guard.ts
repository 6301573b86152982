import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { UnauthenticatedError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import { OPEN_SIGNUP_ROUTE } from './auth.decorators';
import { PlatformToken } from './platform-token';
import { bearerToken } from './principal';

export type ControlPlaneRequest = Request & { platformOperator?: boolean };

/**
 * Control-plane routes need the platform token. The sign-up route also lets anonymous callers in when
 * SIGNUP_MODE=open; a wrong token is refused there too rather than treated as anonymous.
 */
@Injectable()
export class PlatformAdminGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly platformToken: PlatformToken,
    private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ControlPlaneRequest>();
    const token = bearerToken(request.headers.authorization);
    request.platformOperator = this.platformToken.matches(token);
    if (request.platformOperator) return true;
    if (
      token === undefined &&
      request.headers.authorization === undefined &&
      this.config.SIGNUP_MODE === 'open' &&
      this.reflector.get<boolean>(OPEN_SIGNUP_ROUTE, context.getHandler())
    ) {
      return true;
    }
    throw token === undefined
      ? new UnauthenticatedError('AUTH_REQUIRED', 'Send Authorization: Bearer <platform admin token>')
      : new UnauthenticatedError('TOKEN_INVALID', 'The platform admin token is wrong');
  }
}
