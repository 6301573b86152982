import { MikroORM } from '@mikro-orm/postgresql';
import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator';
import { HttpShutdown } from './http-shutdown';

/** How long readiness waits for the control plane's answer before it answers 503 NOT_READY. */
const READY_TIMEOUT_MS = 5_000;

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
    if (!(await this.controlPlaneAnswers())) {
      throw new ServiceUnavailableException({
        message: 'Control-plane database unreachable',
        code: 'NOT_READY',
      });
    }
    return { status: 'ok' };
  }

  /**
   * Whether the control plane answers a statement within READY_TIMEOUT_MS. A server (or a proxy before it) that
   * keeps the connection open but stopped answering would otherwise hold the probe until TCP gave up.
   */
  private async controlPlaneAnswers(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    });
    try {
      const check = this.controlOrm.checkConnection().then((connected) => connected.ok);
      return await Promise.race([check, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
