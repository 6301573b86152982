import { Entity, Enum, FilterQuery, Index, Opt, PrimaryKey, Property, raw } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { ROLES, Role } from '../auth/roles';
import { Timestamped } from '../common/timestamps';

/** A person of the farm (tenant database) and their login. Emails are unique per tenant, ignoring case. */
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

  @Enum({ items: () => ROLES, default: 'viewer' })
  role: Role & Opt = 'viewer';

  /** argon2id (PHC string); null: the user cannot log in until an admin sets a password. Loaded only on demand. */
  @Property({ type: 'text', nullable: true, lazy: true, hidden: true })
  passwordHash?: string | null;

  /** Bumped when the password changes: access tokens carry it, so older tokens stop working. */
  @Property({ type: 'integer', default: 0 })
  credentialsVersion: number & Opt = 0;

  /** A new password, which revokes the user's access tokens. */
  setPasswordHash(passwordHash: string): void {
    this.passwordHash = passwordHash;
    this.credentialsVersion += 1;
  }
}

/**
 * Filter for the user with this email, ignoring case (served by users_email_lower_unique). Both sides are lowered
 * by PostgreSQL, as the index is: JavaScript lowers some letters differently (`İ` becomes two characters).
 */
export function withEmail(email: string): FilterQuery<User> {
  return { [raw((alias) => `lower(${alias}.email)`)]: raw('lower(?)', [email]) };
}
