import { Entity, Enum, Index, Opt, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Timestamped } from '../common/timestamps';

export const FARM_TYPES = ['vegetable', 'dairy', 'orchard', 'mixed'] as const;
/** Named enums of the OpenAPI document (one type each in generated clients). */
export const FARM_TYPE_ENUM = { enum: FARM_TYPES, enumName: 'FarmType' };
export type FarmType = (typeof FARM_TYPES)[number];

export const ORGANIZATION_STATUSES = ['provisioning', 'active', 'failed'] as const;
export const ORGANIZATION_STATUS_ENUM = { enum: ORGANIZATION_STATUSES, enumName: 'OrganizationStatus' };
export type OrganizationStatus = (typeof ORGANIZATION_STATUSES)[number];

/** A tenant in the control-plane registry: who it is and where its database lives. */
@Entity({ tableName: 'organizations' })
@Index({ properties: ['status'] })
export class Organization extends Timestamped {
  @PrimaryKey({ type: 'uuid' })
  id: string & Opt = randomUUID();

  @Property({ type: 'string', length: 200, unique: true })
  name!: string;

  /** The slug clients send in X-Tenant-ID. */
  @Property({ type: 'string', length: 48, unique: true })
  tenantId!: string;

  @Enum({ items: () => FARM_TYPES })
  farmType!: FarmType;

  @Property({ type: 'text', nullable: true })
  logoUrl: string | null = null;

  @Enum({ items: () => ORGANIZATION_STATUSES })
  status: OrganizationStatus & Opt = 'provisioning';

  @Property({ type: 'string', length: 63, unique: true })
  databaseName!: string;

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  /**
   * Set once a sign-up attempt has found the database name free (or its database without tenant migrations): a
   * database of that name is then this organization's, which a retry finishes. Until then an existing database that
   * has run tenant migrations is someone else's (see TenantProvisioner). Every insert of this release names it (the
   * initializer); the column's default is for a process of a release from before it (Migration20261128161000).
   */
  @Property({ type: 'boolean', default: true })
  databaseOwned: boolean & Opt = false;

  /**
   * The owner a sign-up asked for (password already hashed), kept until the tenant database holds it, so a retry or
   * a restart that finishes the sign-up creates the owner too. Null once the organization is active.
   */
  @Property({ type: 'json', nullable: true, hidden: true })
  pendingOwner: PendingOwner | null = null;
}

export interface PendingOwner {
  firstName: string;
  lastName: string;
  email: string;
  passwordHash: string;
}
