import { createHash, timingSafeEqual } from 'node:crypto';

/** The platform operator's bearer token, compared in constant time (over SHA-256 digests, so lengths do not leak). */
export class PlatformToken {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  matches(candidate: string | undefined): boolean {
    return candidate !== undefined && timingSafeEqual(sha256(candidate), this.digest);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
