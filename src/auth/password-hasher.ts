import { Injectable } from '@nestjs/common';
import * as argon2 from 'argon2';
import { availableParallelism } from 'node:os';
import { UnavailableError } from '../common/domain-errors';
import { Semaphore } from '../common/semaphore';

/** argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane): about 30 ms per hash on this machine. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** libuv's thread pool, where argon2 runs: UV_THREADPOOL_SIZE threads, 4 unless set (read by libuv, not the app). */
const THREAD_POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;
/**
 * Hashes computed at once: each takes a core, so more would only share the cores; and one of libuv's threads is
 * always left to file, zlib and DNS work. (availableParallelism counts the CPUs the process may run on, not a
 * container's CPU quota.)
 */
export const HASHING_PERMITS = Math.max(1, Math.min(availableParallelism(), THREAD_POOL_SIZE - 1));
/**
 * Password checks and hashes that may wait for a permit (a few hundred ms of work on 2 cores); beyond them, 503 at
 * once. Unbounded, a burst of logins (one per random email escapes the per-email lockout) queued argon2 work without
 * end, each waiting request holding its tenant's slot and taking libuv's threads from file and DNS work.
 */
export const HASHING_QUEUE = 32;

@Injectable()
export class PasswordHasher {
  /** Verified against when the email is unknown, so both failures cost the same time; made on first need. */
  private decoy?: Promise<string>;
  private readonly permits = new Semaphore(HASHING_PERMITS);
  private admitted = 0;

  hash(password: string): Promise<string> {
    return this.limited(() => argon2.hash(password, OPTIONS));
  }

  /** False for a wrong password and for a missing hash (the decoy is verified instead). */
  verify(hash: string | null, password: string): Promise<boolean> {
    return this.limited(async () => {
      if (hash === null) {
        this.decoy ??= argon2.hash('decoy password never used', OPTIONS);
        await argon2.verify(await this.decoy, password);
        return false;
      }
      return argon2.verify(hash, password);
    });
  }

  /** 503 PASSWORD_CHECKS_BUSY when a check or hash now would be refused: before work that leads to one. */
  assertRoom(): void {
    if (this.admitted >= HASHING_PERMITS + HASHING_QUEUE) {
      throw new UnavailableError(
        'PASSWORD_CHECKS_BUSY',
        'Too many password checks are under way; retry in a moment',
        1,
      );
    }
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    this.assertRoom();
    this.admitted++;
    try {
      return await this.permits.use(work);
    } finally {
      this.admitted--;
    }
  }
}
