/**
 * The single-database baseline of the warm scenario: the same Crop entity, list route (its query DTO with the
 * filters, `cropFilter`, order and page, read with `findPage`), response DTO, validation pipe and error filter as
 * the app, on the same Nest and MikroORM versions, with singleton services and MikroORM's own RequestContext
 * middleware, and no tenancy.
 * It authenticates like the app's tenant routes: the middleware of src/app.setup.ts (no ETag, request id, no-store,
 * helmet, CORS, the JSON body parser and its checks) and
 * a singleton guard that verifies the access token (the app's AccessTokens: HS256, issuer farm-management, key
 * JWT_SECRET) and loads its user by primary key to check the credentials version. Run by `npm run bench` with
 * ts-node.
 */
import 'reflect-metadata';
import { EntityManager, MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import {
  CanActivate,
  Controller,
  ExecutionContext,
  Get,
  Injectable,
  Module,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import { APP_FILTER, APP_PIPE, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import helmet from 'helmet';
import { AccessTokens } from '../../src/auth/access-tokens';
import { bearerToken, Principal } from '../../src/auth/principal';
import { AllExceptionsFilter } from '../../src/common/all-exceptions.filter';
import { UnauthenticatedError } from '../../src/common/domain-errors';
import { findPage } from '../../src/common/find-page';
import { APP_OPTIONS, useJsonBodies } from '../../src/common/json-bodies';
import { noStore } from '../../src/common/no-store';
import { setTotalCount } from '../../src/common/pagination.dto';
import { NEWEST_FIRST } from '../../src/common/queries';
import { requestId } from '../../src/common/request-id';
import { createValidationPipe } from '../../src/common/validation.pipe';
import { Crop } from '../../src/crops/crop.entity';
import { cropFilter } from '../../src/crops/crop-filter';
import { CropDto, ListCropsQueryDto } from '../../src/crops/dto/crop.dto';
import { User } from '../../src/users/user.entity';

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

/**
 * What src/auth/tenant-auth.guard.ts does for a user's token on a GET: the token's signature and claims, then its
 * user by primary key with the same credentials version; no tenant to match the token against.
 */
@Injectable()
class AuthGuard implements CanActivate {
  private readonly tokens = new AccessTokens(
    requiredEnv('JWT_SECRET'),
    Number(env('JWT_TTL_SECONDS', '900')),
  );

  constructor(private readonly em: EntityManager) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) {
      throw new UnauthenticatedError('AUTH_REQUIRED', 'Send Authorization: Bearer <access token>');
    }
    const claims = this.tokens.verify(token);
    const user = await this.em.findOne(User, { id: claims.sub });
    if (!user || user.credentialsVersion !== claims.ver) {
      throw new UnauthenticatedError('TOKEN_REVOKED', 'The access token is no longer valid; log in again');
    }
    request.principal = { kind: 'user', user, role: user.role, tokenVersion: claims.ver };
    return true;
  }
}

@Injectable()
class CropsService {
  constructor(private readonly em: EntityManager) {}

  list(query: ListCropsQueryDto): Promise<[Crop[], number]> {
    return findPage(this.em, Crop, cropFilter(query), {
      orderBy: NEWEST_FIRST,
      limit: query.limit,
      offset: query.offset,
    });
  }
}

@UseGuards(AuthGuard)
@Controller('api/crops')
class CropsController {
  constructor(private readonly crops: CropsService) {}

  @Get()
  async list(
    @Query() query: ListCropsQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CropDto[]> {
    const [crops, total] = await this.crops.list(query);
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
      entities: [Crop, User],
      allowGlobalContext: false,
      ensureDatabase: false,
      discovery: { warnWhenNoEntities: false },
      // The warm scenario gives this and the app's TENANT_POOL_IDLE_MS the same value (knex's default is 30 s).
      pool: {
        min: 0,
        max: Number(env('BASELINE_POOL_MAX', '10')),
        idleTimeoutMillis: Number(env('BASELINE_POOL_IDLE_MS', '30000')),
      },
      // As the app's tenant connections have it (DB_STATEMENT_TIMEOUT_MS's default): PostgreSQL arms a timer per
      // statement.
      driverOptions: { connection: { statement_timeout: 30_000 } },
    }),
  ],
  controllers: [CropsController, HealthController],
  providers: [
    CropsService,
    AuthGuard,
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
  ],
})
class BaselineModule {}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(BaselineModule, {
    ...APP_OPTIONS,
    logger: ['error', 'warn'],
  });
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(requestId);
  app.use(noStore);
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.enableCors({
    origin: [],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Tenant-ID', 'X-Request-Id'],
    exposedHeaders: ['X-Request-Id', 'X-Total-Count', 'Location', 'Retry-After', 'WWW-Authenticate'],
    maxAge: 600,
  });
  useJsonBodies(app);
  app.enableShutdownHooks();
  await app.listen(Number(env('PORT', '3100')));
}

void bootstrap();
