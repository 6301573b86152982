import type { Client } from 'pg';

/** Advisory lock keys, taken on the maintenance database so every process of a deployment agrees on them. */
export const lockKey = (what: string): string => `farm-management:${what}`;

/** Session-level advisory lock, released when the client disconnects. */
export async function advisoryLock(
  client: Client,
  key: string,
  mode: 'exclusive' | 'shared' = 'exclusive',
): Promise<void> {
  const fn = mode === 'shared' ? 'pg_advisory_lock_shared' : 'pg_advisory_lock';
  await client.query(`SELECT ${fn}(hashtext($1))`, [key]);
}

/** Takes the exclusive session-level lock if nobody holds it; false otherwise. */
export async function tryAdvisoryLock(client: Client, key: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
    [key],
  );
  return rows[0].locked;
}

/**
 * Runs `work` holding the exclusive session-level lock, released afterwards (the client lives on). When `work`
 * fails, its error is the one thrown, even if the release fails too (the lock ends with the client then).
 */
export async function withAdvisoryLock<T>(client: Client, key: string, work: () => Promise<T>): Promise<T> {
  const unlock = () => client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
  await advisoryLock(client, key);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await unlock().catch(() => undefined);
    throw error;
  }
  await unlock();
  return result;
}
