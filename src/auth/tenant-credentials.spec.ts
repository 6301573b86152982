import { All, Controller, Get, Param, Post } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { Request } from 'express';
import { AccessTokens } from './access-tokens';
import { PublicTenantRoute } from './auth.decorators';
import { PlatformToken } from './platform-token';
import { TenantCredentials } from './tenant-credentials';

const PLATFORM = 'p'.repeat(40);

/** TenantCredentials over the given controllers, as DiscoveryService lists them. */
function credentialsOver(...controllers: object[]): TenantCredentials {
  const discovery = {
    getControllers: () => controllers.map((metatype) => ({ metatype })),
  } as unknown as DiscoveryService;
  const credentials = new TenantCredentials(
    discovery,
    new MetadataScanner(),
    new AccessTokens('a unit-test secret of more than thirty-two characters', 900),
    new PlatformToken(PLATFORM),
  );
  credentials.onModuleInit();
  return credentials;
}

const request = (method: string, originalUrl: string, authorization?: string) =>
  ({ method, originalUrl, headers: authorization ? { authorization } : {} }) as Request;

@Controller('api/open')
class OpenController {
  @Get('status')
  @PublicTenantRoute()
  status(): void {}

  @Post('status')
  change(): void {}
}

describe('TenantCredentials', () => {
  const credentials = credentialsOver(OpenController);

  it('admits a public route without a token, HEAD with GET, whatever its query, case or trailing slash', () => {
    for (const [method, url] of [
      ['GET', '/api/open/status'],
      ['HEAD', '/api/open/status'],
      ['GET', '/API/Open/Status/?x=1'],
    ]) {
      expect({ method, url, credentials: credentials.check(request(method, url), 'farm') }).toEqual({
        method,
        url,
        credentials: undefined,
      });
    }
  });

  it('asks for credentials on every other method and path, and takes the platform token', () => {
    for (const [method, url] of [
      ['POST', '/api/open/status'],
      ['GET', '/api/open/status/more'],
      ['GET', '/api/open/status//'],
    ]) {
      expect(() => credentials.check(request(method, url), 'farm')).toThrow(
        expect.objectContaining({ code: 'AUTH_REQUIRED' }),
      );
    }
    expect(credentials.check(request('POST', '/api/open/status', `Bearer ${PLATFORM}`), 'farm')).toEqual({
      kind: 'platform',
    });
  });

  it('refuses at start a public route without one method and a fixed path', () => {
    @Controller('api/open')
    class WithParameter {
      @Get(':id')
      @PublicTenantRoute()
      one(@Param('id') _id: string): void {}
    }
    @Controller('api/open')
    class AnyMethod {
      @All('status')
      @PublicTenantRoute()
      any(): void {}
    }
    for (const controller of [WithParameter, AnyMethod]) {
      expect(() => credentialsOver(controller)).toThrow(/must have one method and a fixed path/);
    }
  });
});
