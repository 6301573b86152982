import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { APP_OPTIONS, configureApp } from './app.setup';
import { loadConfigOrExit } from './config/app-config';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await NestFactory.create<NestExpressApplication>(AppModule, APP_OPTIONS);
  configureApp(app);
  await app.listen(config.PORT);
  Logger.log(
    `farm-management listening on http://localhost:${config.PORT} (Swagger UI at /docs)`,
    'Bootstrap',
  );
}

void bootstrap();
