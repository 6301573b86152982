/**
 * The single-database baseline of the warm scenario: the same Crop entity, query, DTOs, validation pipe and error
 * filter as the app, on the same Nest and MikroORM versions, with singleton services and MikroORM's own
 * RequestContext middleware, and no tenancy. Run by `npm run bench` with ts-node.
 */
import 'reflect-metadata';
import { EntityManager, MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { Controller, Get, Injectable, Module, Query, Res } from '@nestjs/common';
import { APP_FILTER, APP_PIPE, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Response } from 'express';
import { AllExceptionsFilter } from '../../src/common/all-exceptions.filter';
import { PaginationQueryDto, setTotalCount } from '../../src/common/pagination.dto';
import { createValidationPipe } from '../../src/common/validation.pipe';
import { Crop } from '../../src/crops/crop.entity';
import { CropDto } from '../../src/crops/dto/crop.dto';

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;

@Injectable()
class CropsService {
  constructor(private readonly em: EntityManager) {}

  list(limit: number, offset: number): Promise<[Crop[], number]> {
    return this.em.findAndCount(Crop, {}, { orderBy: { createdAt: 'desc', id: 'desc' }, limit, offset });
  }
}

@Controller('api/crops')
class CropsController {
  constructor(private readonly crops: CropsService) {}

  @Get()
  async list(
    @Query() query: PaginationQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CropDto[]> {
    const [crops, total] = await this.crops.list(query.limit, query.offset);
    setTotalCount(res, total);
    return crops.map((crop) => CropDto.from(crop));
  }
}

@Controller('health')
class HealthController {
  constructor(private readonly orm: MikroORM) {}

  @Get('ready')
  async ready(): Promise<{ status: string }> {
    return (await this.orm.checkConnection()).ok ? { status: 'ok' } : { status: 'down' };
  }
}

@Module({
  imports: [
    MikroOrmModule.forRoot({
      driver: PostgreSqlDriver,
      host: env('DB_HOST', '127.0.0.1'),
      port: Number(env('DB_PORT', '5432')),
      user: env('DB_USER', 'postgres'),
      password: env('DB_PASSWORD', 'postgres'),
      dbName: env('BASELINE_DB_NAME', 'farm_baseline'),
      entities: [Crop],
      allowGlobalContext: false,
      ensureDatabase: false,
      discovery: { warnWhenNoEntities: false },
      pool: { min: 0, max: Number(env('BASELINE_POOL_MAX', '10')) },
    }),
  ],
  controllers: [CropsController, HealthController],
  providers: [
    CropsService,
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
  ],
})
class BaselineModule {}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(BaselineModule, { logger: ['error', 'warn'] });
  app.disable('x-powered-by');
  app.enableShutdownHooks();
  await app.listen(Number(env('PORT', '3100')));
}

void bootstrap();
