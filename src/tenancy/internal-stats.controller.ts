import { Controller, Get, NotFoundException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config';
import { ConnectionRegistryStats, TenantConnectionRegistry } from './tenant-connection-registry';

export interface InternalStats {
  registry: ConnectionRegistryStats;
  memory: NodeJS.MemoryUsage;
}

/**
 * Operational counters for benchmarks and operators, off unless INTERNAL_STATS_ENABLED (404 otherwise) and kept out
 * of the public OpenAPI document. When the process runs with `--expose-gc`, a full collection runs first so the
 * heap figure is the live heap.
 */
@ApiExcludeController()
@Controller('internal/stats')
export class InternalStatsController {
  constructor(
    private readonly config: AppConfig,
    private readonly connections: TenantConnectionRegistry,
  ) {}

  @Get()
  stats(): InternalStats {
    if (!this.config.INTERNAL_STATS_ENABLED) throw new NotFoundException();
    (globalThis as { gc?: () => void }).gc?.();
    return { registry: this.connections.stats(), memory: process.memoryUsage() };
  }
}
