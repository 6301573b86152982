import { MikroOrmModule } from '@mikro-orm/nestjs';
import { Module } from '@nestjs/common';
import { Organization } from './organization.entity';
import { ControlPlaneMigrator } from './control-plane.migrator';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsService } from './organizations.service';

/** The control plane's organizations: sign-up (provisioning) and the registry. */
@Module({
  imports: [MikroOrmModule.forFeature([Organization])],
  controllers: [OrganizationsController],
  providers: [ControlPlaneMigrator, OrganizationsService],
  exports: [OrganizationsService],
})
export class OrganizationsModule {}
