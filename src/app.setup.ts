import { ContextIdFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { bodyParserErrors, requireJsonBody } from './common/body-parser-errors';
import { requestId } from './common/request-id';
import { AppConfig } from './config/app-config';
import { buildOpenApiDocument } from './openapi';
import { TenantContextIdStrategy, tenantContextOf } from './tenancy/tenant-context-id.strategy';
import { memoizeDurableRouteHandlers } from './tenancy/durable-route-handlers';

/** JSON bodies above this size are refused with 413. */
export const JSON_BODY_LIMIT = '100kb';

/**
 * Options every app is created with: no body parsers of Nest's own, so the JSON parser configureApp adds is the
 * only one (Nest would add a form parser, whose errors and bodies no route expects).
 */
export const APP_OPTIONS = { bodyParser: false } as const;

/** Everything an application needs beyond its module graph; shared by main.ts and the e2e tests. */
export function configureApp(app: NestExpressApplication): void {
  ContextIdFactory.apply(new TenantContextIdStrategy());
  memoizeDurableRouteHandlers(tenantContextOf);
  const config = app.get(AppConfig);
  app.disable('x-powered-by');
  app.use(requestId);
  // Plain-HTTP deployments (a LAN address in development) would have Swagger UI's assets upgraded to https.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.enableCors({
    origin: config.CORS_ORIGINS,
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Tenant-ID', 'X-Request-Id'],
    exposedHeaders: ['X-Request-Id', 'X-Total-Count', 'Retry-After', 'WWW-Authenticate'],
    maxAge: 600,
  });
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT });
  app.use(bodyParserErrors);
  app.use(requireJsonBody);
  app.enableShutdownHooks();
  if (config.SWAGGER_ENABLED) {
    SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
  }
}
