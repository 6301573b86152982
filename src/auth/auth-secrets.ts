import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppConfig, PRINTABLE_TOKEN } from '../config/app-config';

/** The platform operator's token and the access-token signing key, from the environment or from SECRETS_DIR. */
export class AuthSecrets {
  private static readonly logger = new Logger('AuthSecrets');

  private constructor(
    readonly platformToken: string,
    readonly jwtSecret: string,
  ) {}

  static async fromConfig(config: AppConfig): Promise<AuthSecrets> {
    const platform = config.PLATFORM_ADMIN_TOKEN
      ? { value: config.PLATFORM_ADMIN_TOKEN, created: false }
      : await loadOrCreateSecret(config.SECRETS_DIR, 'platform-admin-token');
    // Checked in the environment by AppConfig; a file an operator wrote (a mounted secret) is checked here.
    if (!PRINTABLE_TOKEN.test(platform.value)) {
      throw new Error(
        `${join(config.SECRETS_DIR, 'platform-admin-token')} must hold printable ASCII without spaces: ` +
          'the platform token is sent as a Bearer token',
      );
    }
    const jwt = config.JWT_SECRET
      ? { value: config.JWT_SECRET, created: false }
      : await loadOrCreateSecret(config.SECRETS_DIR, 'jwt-secret');
    if (platform.created) {
      AuthSecrets.logger.warn(
        `Generated the platform admin token (shown once; kept in ${join(config.SECRETS_DIR, 'platform-admin-token')}): ` +
          platform.value,
      );
    }
    return new AuthSecrets(platform.value, jwt.value);
  }
}

/**
 * Reads `<dir>/<name>`, or creates it with 32 random bytes (base64url) readable by the owner only. An existing file
 * is only read, so secrets mounted read-only work. A new value is written to a temporary file first and then
 * hard-linked into place, which fails if the file exists: processes starting together agree on one value, and none
 * ever reads a file still being written.
 */
export async function loadOrCreateSecret(
  dir: string,
  name: string,
): Promise<{ value: string; created: boolean }> {
  const file = join(dir, name);
  const existing = await readSecret(file);
  if (existing !== undefined) return { value: existing, created: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const value = randomBytes(32).toString('base64url');
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(draft, `${value}\n`, { flag: 'wx', mode: 0o600 });
  try {
    await link(draft, file);
    return { value, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(draft);
  }
  const stored = await readSecret(file);
  if (stored === undefined) throw new Error(`${file} was removed while it was being created; start again`);
  return { value: stored, created: false };
}

/** The secret kept in `file`, or undefined when there is no such file. */
async function readSecret(file: string): Promise<string | undefined> {
  let stored: string;
  try {
    stored = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (stored.length < 32) throw new Error(`${file} holds fewer than 32 characters; delete it to regenerate`);
  return stored;
}
