import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { APP_OPTIONS } from './common/json-bodies';
import { loadConfigOrExit } from './config/app-config';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await NestFactory.create<NestExpressApplication>(AppModule, APP_OPTIONS);
  configureApp(app);
  await app.init();
  try {
    await app.listen(config.PORT);
  } catch (error) {
    // A port in use, say: said without a stack, and what the start began (a template, spare databases) is stopped.
    Logger.error(`Cannot listen on port ${config.PORT}: ${(error as Error).message}`, 'Bootstrap');
    await app.close();
    process.exit(1);
  }
  const docs = config.SWAGGER_ENABLED ? ' (Swagger UI at /docs)' : '';
  // The port bound, which PORT=0 leaves to the system.
  const { port } = app.getHttpServer().address() as AddressInfo;
  Logger.log(`farm-management listening on http://localhost:${port}${docs}`, 'Bootstrap');
}

void bootstrap();
