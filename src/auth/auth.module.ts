import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { AccessTokens } from './access-tokens';
import { AuthController, LoginController } from './auth.controller';
import { AuthSecrets } from './auth-secrets';
import { AuthService } from './auth.service';
import { PasswordHasher } from './password-hasher';
import { PlatformAdminGuard } from './platform-admin.guard';
import { PlatformToken } from './platform-token';
import { TenantAuthGuard } from './tenant-auth.guard';
import { TenantCredentials } from './tenant-credentials';

/**
 * Who may call what: the platform operator's token, tenant users' access tokens and roles, login with brute-force
 * protection. Global, because every tenant route's guard needs the tokens, the control plane the platform guard,
 * and users and sign-up the hasher.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  controllers: [LoginController, AuthController],
  providers: [
    {
      provide: AuthSecrets,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => AuthSecrets.fromConfig(config),
    },
    {
      provide: PlatformToken,
      inject: [AuthSecrets],
      useFactory: (secrets: AuthSecrets) => new PlatformToken(secrets.platformToken),
    },
    {
      provide: AccessTokens,
      inject: [AuthSecrets, AppConfig],
      useFactory: (secrets: AuthSecrets, config: AppConfig) =>
        new AccessTokens(secrets.jwtSecret, config.JWT_TTL_SECONDS),
    },
    PasswordHasher,
    AuthService,
    TenantAuthGuard,
    TenantCredentials,
    PlatformAdminGuard,
  ],
  exports: [
    PlatformToken,
    AccessTokens,
    PasswordHasher,
    TenantAuthGuard,
    TenantCredentials,
    PlatformAdminGuard,
  ],
})
export class AuthModule {}
