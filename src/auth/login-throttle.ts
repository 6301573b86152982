import type { EntityManager } from '@mikro-orm/postgresql';
import { RateLimitedError } from '../common/domain-errors';
import type { PasswordCheckPlace } from './password-hasher';

/** Failed logins allowed per tenant and email within the window; the next attempt is refused until one expires. */
export const MAX_LOGIN_FAILURES = 5;
export const LOGIN_WINDOW_MINUTES = 15;
/**
 * An attempt whose check has not been recorded as failed counts as under way this long, then as failed (its process
 * died before it could record the outcome): no check takes nearly as long.
 */
const CHECK_UNDER_WAY_SECONDS = 60;

/** An attempt counted toward the lockout, with the place of its password check. */
export interface LoginAttempt {
  readonly id: string;
  readonly place: PasswordCheckPlace;
}

/**
 * Brute-force protection kept in the tenant database, so every process of the app counts the same attempts: records
 * an attempt for `email` (lowered by PostgreSQL, as the users' unique index is) as a failure before the password
 * is checked (forgiven by `forgiveLoginFailures` when it succeeds, or when an admin sets a new password; marked
 * checked by `recordFailedCheck` when it fails), or throws 429 when the limit is reached: with a Retry-After of 1 s
 * while some of the attempts counted are still being checked (concurrent logins with the right password would
 * otherwise be told to wait 15 minutes for a count the first success clears), else until the oldest one leaves the
 * window. A transaction-scoped advisory lock per email keeps concurrent attempts from slipping past the limit
 * together. The check's place (`admit`, PasswordHasher's) is taken last, once the attempt is written but before it
 * commits: a busy hasher's 503 rolls it back, so it counts nothing, and neither a refused attempt nor the waits for
 * a connection or the lock hold a place, only the commit does. The caller gives the place back (the caller reads
 * what it checks before, for the same reason). Should the commit's answer be lost, the place is given back and the
 * attempt may have counted without a check: rare, and accepted.
 */
export async function recordLoginAttempt(
  em: EntityManager,
  email: string,
  admit: () => PasswordCheckPlace,
): Promise<LoginAttempt> {
  let place: PasswordCheckPlace | undefined;
  try {
    return await em.transactional(async (tx) => {
      await tx.execute(`select pg_advisory_xact_lock(hashtext('login:' || lower(?)))`, [email]);
      const [window] = await tx.execute<{ failures: number; underWay: number; wait: number | null }[]>(
        `select count(*)::int as failures,
                count(*) filter (where not checked and failed_at > now() - make_interval(secs => ?))::int
                  as "underWay",
                ceil(extract(epoch from min(failed_at) + make_interval(mins => ?) - now()))::int as wait
           from login_failures where email_key = lower(?) and failed_at > now() - make_interval(mins => ?)`,
        [CHECK_UNDER_WAY_SECONDS, LOGIN_WINDOW_MINUTES, email, LOGIN_WINDOW_MINUTES],
      );
      if (window.failures >= MAX_LOGIN_FAILURES) {
        if (window.underWay > 0) {
          throw new RateLimitedError(
            'LOGIN_LOCKED',
            'Too many logins for this email at once; retry in 1 s, once the checks under way have ended',
            1,
          );
        }
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
      const [attempt] = await tx.execute<{ id: string }[]>(
        `insert into login_failures (email_key) values (lower(?)) returning id`,
        [email],
      );
      place = admit();
      return { id: attempt.id, place };
    });
  } catch (error) {
    place?.release();
    throw error;
  }
}

/** The attempt's password check failed: it counts as a failure from now on, no longer as a check under way. */
export async function recordFailedCheck(em: EntityManager, attempt: LoginAttempt): Promise<void> {
  await em.execute(`update login_failures set checked = true where id = ?`, [attempt.id]);
}

/** A login succeeded, or an admin set a new password: forget this email's failures. */
export async function forgiveLoginFailures(em: EntityManager, email: string): Promise<void> {
  await em.execute(`delete from login_failures where email_key = lower(?)`, [email]);
}
