import { LoginFailure } from '../auth/login-failure.entity';
import { Crop } from '../crops/crop.entity';
import { Harvest } from '../harvests/harvest.entity';
import { User } from '../users/user.entity';

/** Every entity stored in a tenant database. */
export const TENANT_ENTITIES = [User, Crop, Harvest, LoginFailure];
