import { Module } from '@nestjs/common';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

/** People of a farm, stored in the tenant's database. */
@Module({ controllers: [UsersController], providers: [UsersService] })
export class UsersModule {}
