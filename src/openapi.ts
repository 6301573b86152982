import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('farm-management')
    .setDescription(
      'Multi-tenant farm management API. Each organization (tenant) has its own PostgreSQL database. ' +
        'Sign up with POST /organizations, then call /api/... routes with the X-Tenant-ID header set to the ' +
        "organization's tenantId. Every error has the shape { statusCode, error, message, code? }.",
    )
    .setVersion('0.1.0')
    .build();
  return SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controllerKey, methodKey) => methodKey,
  });
}
