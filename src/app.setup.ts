import { ContextIdFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { useJsonBodies } from './common/json-bodies';
import { noStore } from './common/no-store';
import { requestId } from './common/request-id';
import { AppConfig } from './config/app-config';
import { buildOpenApiDocument } from './openapi';
import { TenantContextIdStrategy, tenantContextOf } from './tenancy/tenant-context-id.strategy';
import { memoizeDurableRouteHandlers } from './tenancy/durable-route-handlers';

/** Everything an application needs beyond its module graph; shared by main.ts and the e2e tests. */
export function configureApp(app: NestExpressApplication): void {
  ContextIdFactory.apply(new TenantContextIdStrategy());
  memoizeDurableRouteHandlers(tenantContextOf);
  const config = app.get(AppConfig);
  app.disable('x-powered-by');
  // Express's weak ETag (a hash of every body) would let a conditional GET get a 304; see noStore.
  app.disable('etag');
  app.use(requestId);
  app.use(noStore);
  // Plain-HTTP deployments (a LAN address in development) would have Swagger UI's assets upgraded to https.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.enableCors({
    origin: config.CORS_ORIGINS,
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Tenant-ID', 'X-Request-Id'],
    exposedHeaders: ['X-Request-Id', 'X-Total-Count', 'Location', 'Retry-After', 'WWW-Authenticate'],
    maxAge: 600,
  });
  useJsonBodies(app);
  app.enableShutdownHooks();
  if (config.SWAGGER_ENABLED) {
    SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
  }
}
