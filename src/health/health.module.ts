import { Module } from '@nestjs/common';
import { HealthController } from './health.controller';
import { HttpShutdown } from './http-shutdown';

@Module({ controllers: [HealthController], providers: [HttpShutdown] })
export class HealthModule {}
