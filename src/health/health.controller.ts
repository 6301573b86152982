import { MikroORM } from '@mikro-orm/postgresql';
import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator';
import { HttpShutdown } from './http-shutdown';

class HealthDto {
  @ApiProperty({ example: 'ok' })
  status!: string;
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly controlOrm: MikroORM,
    private readonly shutdown: HttpShutdown,
  ) {}

  @Get()
  @ApiOperation({ operationId: 'getHealth', summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: HealthDto, description: 'The process is up' })
  live(): HealthDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    operationId: 'getReadiness',
    summary: 'Readiness: the control-plane database answers and the app is not shutting down',
  })
  @ApiOkResponse({ type: HealthDto, description: 'The control-plane database answers' })
  @ApiErrors({ 503: ['SHUTTING_DOWN', 'NOT_READY'] })
  async ready(): Promise<HealthDto> {
    if (this.shutdown.shuttingDown) {
      throw new ServiceUnavailableException({ message: 'The app is shutting down', code: 'SHUTTING_DOWN' });
    }
    const connected = await this.controlOrm.checkConnection();
    if (!connected.ok) {
      throw new ServiceUnavailableException({
        message: 'Control-plane database unreachable',
        code: 'NOT_READY',
      });
    }
    return { status: 'ok' };
  }
}
