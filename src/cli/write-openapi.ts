import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { writeFileSync } from 'node:fs';
import { AppModule } from '../app.module';
import { buildOpenApiDocument, OPENAPI_FILE, serializeOpenApiDocument } from '../openapi';

/**
 * `npm run openapi`: writes openapi.json from the controllers' decorators. Preview mode resolves the module graph
 * without instantiating providers, so no configuration is read and no database is started.
 */
async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { preview: true, logger: false, abortOnError: false });
  writeFileSync(OPENAPI_FILE, serializeOpenApiDocument(buildOpenApiDocument(app)));
  await app.close();
  console.log(`Wrote ${OPENAPI_FILE}`);
}

void main();
