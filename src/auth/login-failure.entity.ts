import { Entity, Index, Opt, PrimaryKey, Property } from '@mikro-orm/core';

/** One failed (or still running) login attempt for an email of the tenant; rows older than the window are pruned. */
@Entity({ tableName: 'login_failures' })
@Index({ properties: ['emailKey', 'failedAt'] })
@Index({ properties: ['failedAt'] })
export class LoginFailure {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string & Opt;

  /**
   * The email as typed, lowered by PostgreSQL (text: lowering can lengthen it): attempts count per email whether or
   * not a user has it.
   */
  @Property({ type: 'text' })
  emailKey!: string;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  failedAt: Date & Opt = new Date();

  /** Whether its password check has failed; false while the check runs (or when its process died first). */
  @Property({ default: false })
  checked: boolean & Opt = false;
}
