import { Module } from '@nestjs/common';
import { CropsController } from './crops.controller';
import { CropsService } from './crops.service';

/** Crops of a farm, stored in the tenant's database. */
@Module({ controllers: [CropsController], providers: [CropsService] })
export class CropsModule {}
