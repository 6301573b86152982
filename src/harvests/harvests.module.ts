import { Module } from '@nestjs/common';
import { CropHarvestsController } from './crop-harvests.controller';
import { HarvestsController } from './harvests.controller';
import { HarvestsService } from './harvests.service';

/** Harvests of a farm's crops, stored in the tenant's database. */
@Module({ controllers: [HarvestsController, CropHarvestsController], providers: [HarvestsService] })
export class HarvestsModule {}
