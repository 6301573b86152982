import { Injectable } from '@nestjs/common';
import * as argon2 from 'argon2';
import { availableParallelism } from 'node:os';
import { UnavailableError } from '../common/domain-errors';
import { Semaphore } from '../common/semaphore';

/** argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane): about 30 ms per hash on this machine. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * libuv's thread pool, where argon2 runs, sized as libuv reads UV_THREADPOOL_SIZE (its variable, not the app's): 4
 * when unset, 1 for 0 or no number, at most 1024.
 */
export function threadPoolSize(setting = process.env.UV_THREADPOOL_SIZE): number {
  if (setting === undefined) return 4;
  const size = parseInt(setting, 10) || 0;
  if (size === 0) return 1;
  return size < 0 || size > 1024 ? 1024 : size;
}

/**
 * Hashes computed at once: each takes a core, so more would only share the cores; and one of libuv's threads is
 * left to file, zlib and DNS work (unless it has one thread only). availableParallelism counts the CPUs the process
 * may run on, not a container's CPU quota.
 */
export const HASHING_PERMITS = Math.max(1, Math.min(availableParallelism(), threadPoolSize() - 1));
/**
 * Password checks and hashes that may wait for a permit (a few hundred ms of work on 2 cores); beyond them, 503 at
 * once. Unbounded, a burst of logins (one per random email escapes the per-email lockout) queued argon2 work without
 * end, each waiting request holding its tenant's slot and taking libuv's threads from file and DNS work.
 */
export const HASHING_QUEUE = 32;

/** A place for one password check, taken ahead of it. */
export interface PasswordCheckPlace {
  /** Checks the password in this place, which is then given back: never refused as busy (a place serves one check). */
  verify(hash: string | null, password: string): Promise<boolean>;
  /** Gives the place back unused; nothing once used or given back. */
  release(): void;
}

@Injectable()
export class PasswordHasher {
  /** Verified against when the email is unknown, so both failures cost the same time; made on first need. */
  private decoy?: Promise<string>;
  private readonly permits = new Semaphore(HASHING_PERMITS);
  /** Places taken: checks and hashes running or waiting for a permit, and places held for a check to come. */
  private admitted = 0;

  async hash(password: string): Promise<string> {
    const place = this.admit();
    try {
      return await this.permits.use(() => argon2.hash(password.normalize('NFC'), OPTIONS));
    } finally {
      place.release();
    }
  }

  /** False for a wrong password and for a missing hash (the decoy is verified instead). */
  async verify(hash: string | null, password: string): Promise<boolean> {
    return this.admit().verify(hash, password);
  }

  /**
   * Takes a place for a password check now, or throws 503 PASSWORD_CHECKS_BUSY when HASHING_PERMITS +
   * HASHING_QUEUE are taken. Login takes it as it counts an attempt toward the lockout (recordLoginAttempt): a check
   * it has counted is never refused, else a user retrying through a burst of others' logins would lock their email.
   */
  admit(): PasswordCheckPlace {
    if (this.admitted >= HASHING_PERMITS + HASHING_QUEUE) {
      throw new UnavailableError(
        'PASSWORD_CHECKS_BUSY',
        'Too many password checks are under way; retry in a moment',
        1,
      );
    }
    this.admitted++;
    let held = true;
    let checked = false;
    const release = () => {
      if (!held) return;
      held = false;
      this.admitted--;
    };
    return {
      verify: async (hash, password) => {
        if (!held || checked)
          throw new Error('A password check place serves one check, before it is given back');
        checked = true;
        try {
          return await this.permits.use(() => this.check(hash, password));
        } finally {
          release();
        }
      },
      release,
    };
  }

  /**
   * Passwords are hashed composed (Unicode NFC, as RFC 8265 prepares them), so one typed or pasted decomposed (é as e
   * and an accent) matches; a hash made before that holds the password as it was sent, so a decomposed password is
   * also checked as sent. The decoy gets the same checks, so an unknown email still costs what a wrong password does.
   */
  private async check(hash: string | null, password: string): Promise<boolean> {
    const against = hash ?? (await this.decoyHash());
    const composed = password.normalize('NFC');
    const matches =
      (await argon2.verify(against, composed)) ||
      (composed !== password && (await argon2.verify(against, password)));
    return hash !== null && matches;
  }

  private decoyHash(): Promise<string> {
    // A failed hash is not kept: the next check makes the decoy again.
    this.decoy ??= argon2.hash('decoy password never used', OPTIONS).catch((error: unknown) => {
      this.decoy = undefined;
      throw error;
    });
    return this.decoy;
  }
}
