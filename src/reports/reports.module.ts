import { Module } from '@nestjs/common';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';

/** Aggregates over a farm's data, computed by PostgreSQL. */
@Module({ controllers: [ReportsController], providers: [ReportsService] })
export class ReportsModule {}
