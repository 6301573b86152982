import { Controller, Get, NotFoundException, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PlatformAdminGuard } from '../auth/platform-admin.guard';
import { AppConfig } from '../config/app-config';
import { ConnectionRegistryStats, TenantConnectionRegistry } from './tenant-connection-registry';
import { TenantRegistry, TenantRegistryStats } from './tenant-registry';
import { SparePoolStats, TenantSparePool } from './tenant-spare-pool';

export interface InternalStats {
  registry: ConnectionRegistryStats;
  tenantRegistry: TenantRegistryStats;
  spares: SparePoolStats;
  memory: NodeJS.MemoryUsage;
}

/**
 * Operational counters (connection registry, the tenant registry's answers, spare pool, memory) for benchmarks and
 * operators: platform token only, off unless INTERNAL_STATS_ENABLED (404 otherwise) and kept out of the public
 * OpenAPI document. When the process runs with `--expose-gc`, a full collection runs first so the heap figure is the
 * live heap.
 */
@ApiExcludeController()
@UseGuards(PlatformAdminGuard)
@Controller('internal/stats')
export class InternalStatsController {
  constructor(
    private readonly config: AppConfig,
    private readonly connections: TenantConnectionRegistry,
    private readonly spares: TenantSparePool,
    private readonly tenants: TenantRegistry,
  ) {}

  @Get()
  async stats(): Promise<InternalStats> {
    if (!this.config.INTERNAL_STATS_ENABLED) throw new NotFoundException();
    const spares = await this.spares.stats();
    (globalThis as { gc?: () => void }).gc?.();
    return {
      registry: this.connections.stats(),
      tenantRegistry: this.tenants.stats(),
      spares,
      memory: process.memoryUsage(),
    };
  }
}
