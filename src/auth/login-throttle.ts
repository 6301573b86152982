import type { EntityManager } from '@mikro-orm/postgresql';
import { RateLimitedError } from '../common/domain-errors';
import type { PasswordCheckPlace } from './password-hasher';

/** Failed logins allowed per tenant and email within the window; the next attempt is refused until one expires. */
export const MAX_LOGIN_FAILURES = 5;
export const LOGIN_WINDOW_MINUTES = 15;

/**
 * Brute-force protection kept in the tenant database, so every process of the app counts the same attempts: records
 * an attempt for `email` (lowered by PostgreSQL, as the users' unique index is) as a failure before the password
 * is checked (forgiven by `forgiveLoginFailures` when it succeeds, or when an admin sets a new password), or throws
 * 429 when the limit is reached. A transaction-scoped advisory lock per email keeps concurrent attempts from
 * slipping past the limit together. The check's place (`admit`, PasswordHasher's) is taken last, once the attempt
 * is written but before it commits: a busy hasher's 503 rolls it back, so it counts nothing, and neither a refused
 * attempt nor the waits for a connection or the lock hold a place, only the commit does. The caller gives the place
 * back (the caller reads what it checks before, for the same reason). Should the commit's answer be lost, the place
 * is given back and the attempt may have counted without a check: rare, and accepted.
 */
export async function recordLoginAttempt(
  em: EntityManager,
  email: string,
  admit: () => PasswordCheckPlace,
): Promise<PasswordCheckPlace> {
  let place: PasswordCheckPlace | undefined;
  try {
    return await em.transactional(async (tx) => {
      await tx.execute(`select pg_advisory_xact_lock(hashtext('login:' || lower(?)))`, [email]);
      const [window] = await tx.execute<{ failures: number; wait: number | null }[]>(
        `select count(*)::int as failures,
                ceil(extract(epoch from min(failed_at) + make_interval(mins => ?) - now()))::int as wait
           from login_failures where email_key = lower(?) and failed_at > now() - make_interval(mins => ?)`,
        [LOGIN_WINDOW_MINUTES, email, LOGIN_WINDOW_MINUTES],
      );
      if (window.failures >= MAX_LOGIN_FAILURES) {
        const wait = Math.max(1, window.wait ?? 1);
        throw new RateLimitedError(
          'LOGIN_LOCKED',
          `Too many failed logins for this email; retry in ${wait} s`,
          wait,
        );
      }
      await tx.execute(`delete from login_failures where failed_at <= now() - make_interval(mins => ?)`, [
        LOGIN_WINDOW_MINUTES,
      ]);
      await tx.execute(`insert into login_failures (email_key) values (lower(?))`, [email]);
      place = admit();
      return place;
    });
  } catch (error) {
    place?.release();
    throw error;
  }
}

/** A login succeeded, or an admin set a new password: forget this email's failures. */
export async function forgiveLoginFailures(em: EntityManager, email: string): Promise<void> {
  await em.execute(`delete from login_failures where email_key = lower(?)`, [email]);
}
