import { Crop } from '../crops/crop.entity';

/** Every entity stored in a tenant database. */
export const TENANT_ENTITIES = [Crop];
