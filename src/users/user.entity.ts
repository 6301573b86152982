import { Entity, Index, Opt, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Timestamped } from '../common/timestamps';

/** A person of the farm (tenant database). Emails are unique per tenant, ignoring case. */
@Entity({ tableName: 'users' })
@Index({ properties: ['createdAt', 'id'] })
@Index({
  name: 'users_email_lower_unique',
  expression: 'create unique index "users_email_lower_unique" on "users" (lower("email"))',
})
export class User extends Timestamped {
  @PrimaryKey({ type: 'uuid' })
  id: string & Opt = randomUUID();

  @Property({ type: 'string', length: 200 })
  firstName!: string;

  @Property({ type: 'string', length: 200 })
  lastName!: string;

  @Property({ type: 'string', length: 254 })
  email!: string;
}
