import { All, Controller, Get, Param, Post } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { Request } from 'express';
import { AccessTokens } from './access-tokens';
import { PublicTenantRoute } from './auth.decorators';
import { PlatformToken } from './platform-token';
import { TenantCredentials } from './tenant-credentials';

const PLATFORM = 'p'.repeat(40);
const tokens = new AccessTokens('a unit-test secret of more than thirty-two characters', 900);

/** TenantCredentials over the given controllers, as DiscoveryService lists them. */
function credentialsOver(...controllers: object[]): TenantCredentials {
  const discovery = {
    getControllers: () => controllers.map((metatype) => ({ metatype })),
  } as unknown as DiscoveryService;
  const credentials = new TenantCredentials(
    discovery,
    new MetadataScanner(),
    tokens,
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
      // An absolute URL in the request line, which Express routes by its path.
      ['GET', 'http://farm.example:3000/api/open/status?x=1'],
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
      ['GET', 'http://farm.example/api/open/status/more'],
    ]) {
      expect(() => credentials.check(request(method, url), 'farm')).toThrow(
        expect.objectContaining({ code: 'AUTH_REQUIRED' }),
      );
    }
    expect(credentials.check(request('POST', '/api/open/status', `Bearer ${PLATFORM}`), 'farm')).toEqual({
      kind: 'platform',
    });
  });

  it("takes a user's access token for the tenant, refuses another tenant's (403) and a forged one (401)", () => {
    const claims = {
      sub: '0f8b0a3e-8d9b-4c1e-9a55-3f2b1c4d5e6f',
      tid: 'farm',
      role: 'viewer' as const,
      ver: 1,
    };
    const { accessToken } = tokens.issue(claims);
    const checked = (tenantId: string, token: string) =>
      credentials.check(request('GET', '/api/crops', `Bearer ${token}`), tenantId);
    expect(checked('farm', accessToken)).toEqual({ kind: 'user', claims });
    expect(() => checked('other-farm', accessToken)).toThrow(
      expect.objectContaining({ code: 'TENANT_MISMATCH' }),
    );
    expect(() => checked('farm', `${accessToken}x`)).toThrow(
      expect.objectContaining({ code: 'TOKEN_INVALID' }),
    );
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
    @Controller('api/open')
    class OptionalPart {
      @Get('status{.json}')
      @PublicTenantRoute()
      status(): void {}
    }
    @Controller('api/open')
    class EscapedCharacter {
      @Get('status\\.json')
      @PublicTenantRoute()
      status(): void {}
    }
    for (const controller of [WithParameter, AnyMethod, OptionalPart, EscapedCharacter]) {
      expect(() => credentialsOver(controller)).toThrow(/must have one method and a fixed path/);
    }
  });
});
