import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  ValidateIf,
  validateSync,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const toBool = ({ value }: { value: unknown }): unknown =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
const emptyToUndefined = ({ value }: { value: unknown }): unknown => (value === '' ? undefined : value);
/**
 * A text setting without whitespace at either end: a stray space or line break (an editor's, a template's) would fail
 * later, far from the setting's name (`getaddrinfo ENOTFOUND 127.0.0.1 `), or name a directory `" "`.
 */
const Trimmed = () =>
  Matches(/^\S(.*\S)?$/s, {
    message: ({ property }) => `${property} must not start or end with a space or a line break`,
  });
/** What a Bearer token of ours may hold: printable ASCII without spaces or line breaks (a header carries it whole). */
export const PRINTABLE_TOKEN = /^[\x21-\x7e]+$/;
/** A browser origin: scheme and host, with a port or without. */
const ORIGIN = /^https?:\/\/[^/\\\s,@?#]+$/i;
/** An origin as browsers send it in `Origin` (`https://App.example.com:443` as `https://app.example.com`). */
const asSent = (origin: string): string => {
  if (!ORIGIN.test(origin) || !URL.canParse(origin)) return origin;
  return new URL(origin).origin;
};
/** Whether `origin` is one as browsers send it (asSent leaves one that is not, or that cannot be parsed, as it was). */
const isOrigin = (origin: string): boolean =>
  ORIGIN.test(origin) && URL.canParse(origin) && new URL(origin).origin === origin;

/**
 * Every setting of the process, parsed and validated once at start. Defaults live here and in `.env.example`.
 * Property names are the environment variable names, so an error names the variable to fix.
 */
export class AppConfig {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /** Unset: an embedded PostgreSQL is started with its data under `EMBEDDED_PG_DIR`. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(1)
  @Trimmed()
  DB_HOST?: string = undefined;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  DB_PORT = 5432;

  /** The control-plane database (the tenant registry). */
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, {
    message: 'DB_NAME must be 1-63 characters of lowercase letters, digits and _, not starting with a digit',
  })
  DB_NAME = 'farm_tenants';

  @IsString()
  @MinLength(1)
  @Trimmed()
  DB_USER = 'postgres';

  @IsString()
  DB_PASSWORD = 'postgres';

  @Matches(/^[a-z][a-z0-9_]{0,14}$/, {
    message:
      'TENANT_DB_PREFIX must be 1-15 characters of lowercase letters, digits and _, starting with a letter',
  })
  TENANT_DB_PREFIX = 'tenant_';

  /** Requests to `<tenant>.<TENANT_BASE_DOMAIN>` resolve the tenant from the host. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, {
    message: 'TENANT_BASE_DOMAIN must be a lowercase host name such as farms.example.com',
  })
  TENANT_BASE_DOMAIN?: string = undefined;

  /** Most tenants open (holding a connection pool) at once; the idle one with the fewest recent requests yields. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10000)
  TENANT_MAX_OPEN = 30;

  /**
   * Tenant ORMs (with their DI subtrees) kept after their pools closed, so reopening them costs a connection only;
   * the least recently used beyond it are closed. 0 closes every ORM with its pool.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(100_000)
  TENANT_MAX_KEPT = 1_000;

  /** Connections in one tenant's pool; a second opens only when two of its tenant's requests need one at once. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(20)
  TENANT_POOL_MAX = 2;

  /** A pooled tenant connection idle this long is closed. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  TENANT_POOL_IDLE_MS = 10_000;

  /** An open tenant unused this long gives its slot and connections up (its ORM is kept). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  TENANT_IDLE_CLOSE_MS = 300_000;

  /**
   * How long a request waits for a slot while every open tenant is busy (then 503 TENANT_CAPACITY), or for a
   * maintenance session to migrate the tenant it opens, or for another session's migration of that tenant to end
   * (then 503 TENANT_UNAVAILABLE).
   */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60_000)
  TENANT_SLOT_WAIT_MS = 10_000;

  /**
   * How long a registry lookup (tenant id -> status, database) is trusted while the control plane's change
   * notifications are not heard (the listener's connection is down); 0: not cached then.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(600_000)
  TENANT_CACHE_TTL_MS = 5_000;

  /**
   * How long a registry lookup is trusted while change notifications are heard (each change drops the tenant's
   * answer when it commits, a TRUNCATE every answer): a bound for a notification lost without the connection
   * noticing, or a change made with the triggers disabled; 0: not cached.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  TENANT_CACHE_LISTEN_TTL_MS = 600_000;

  /**
   * How often the change listener asks the server whether its session still listens: a question left unanswered
   * when the next is due, or answered no, counts the connection as lost. TCP keepalive notices a peer that vanished
   * (~20 s); this notices one that answers TCP but not queries (a proxy or pooler in between whose server side
   * stopped, a hung server) within two of these; 0: keepalive only. Else at least 100 ms: a question asked again
   * before its round trip could end would count every connection as lost.
   */
  @Transform(toInt)
  @ValidateIf((config: AppConfig) => config.TENANT_CHANGES_HEARTBEAT_MS !== 0)
  @IsInt()
  @Min(100, { message: 'TENANT_CHANGES_HEARTBEAT_MS must be 0 (keepalive only) or at least 100' })
  @Max(600_000)
  TENANT_CHANGES_HEARTBEAT_MS = 30_000;

  /** Spare tenant databases kept cloned ahead of time for sign-ups; 0 turns the pool off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(20)
  TENANT_SPARE_POOL = 2;

  /** Tenants migrated at once by `tenants:migrate`. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50)
  TENANT_MIGRATE_CONCURRENCY = 4;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50)
  CONTROL_POOL_MAX = 5;

  /**
   * Maintenance sessions at once (sign-ups, spare refills, migrations of tenants being opened), 2 connections each:
   * one to the server's maintenance database, one to a database being prepared. More than these wait in turn.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10)
  DB_MAINTENANCE_SESSIONS = 2;

  /** Upper bound for every pool of this process together; must stay below the server's max_connections. */
  @Transform(toInt)
  @IsInt()
  @Min(5)
  DB_CONNECTION_BUDGET = 80;

  /**
   * PostgreSQL cancels a statement of the control-plane or a tenant pool that runs longer than this (a lock wait
   * included), so one stuck query cannot hold a tenant's connection for good; the request gets 503 QUERY_TIMEOUT.
   * Migrations and maintenance sessions run without it (a migration's lock waits: DB_MIGRATION_LOCK_TIMEOUT_MS).
   * 0: the server's own `statement_timeout`.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  DB_STATEMENT_TIMEOUT_MS = 30_000;

  /**
   * How long a migration waits for each lock (its lock_timeout) before it gives up and the pending ones roll back:
   * one queued behind another session's transaction holds up every request to the tables it alters. A tenant's
   * opening then answers 503 TENANT_UNAVAILABLE, `tenants:migrate` reports the tenant FAILED, the app's start fails.
   * 0: the server's own `lock_timeout`.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  DB_MIGRATION_LOCK_TIMEOUT_MS = 5_000;

  @IsString()
  @MinLength(1)
  @Trimmed()
  EMBEDDED_PG_DIR = '.data/postgres';

  /** 0 picks a free port. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  EMBEDDED_PG_PORT = 0;

  @Transform(toBool)
  @IsBoolean()
  SWAGGER_ENABLED = true;

  /**
   * Bearer token of the platform operator (control-plane routes, support access to tenant routes). Unset: one is
   * generated on first start and kept in `SECRETS_DIR`.
   */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'PLATFORM_ADMIN_TOKEN must be at least 32 characters' })
  @Matches(PRINTABLE_TOKEN, {
    message:
      'PLATFORM_ADMIN_TOKEN must be printable ASCII without spaces or line breaks: it is sent as a Bearer token',
  })
  PLATFORM_ADMIN_TOKEN?: string = undefined;

  /** HMAC key of the tenant users' access tokens. Unset: generated on first start and kept in `SECRETS_DIR`. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters' })
  JWT_SECRET?: string = undefined;

  /** Lifetime of an access token, in seconds. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(86_400)
  JWT_TTL_SECONDS = 900;

  /** Where generated secrets (platform token, JWT key) are kept; created with mode 0700. */
  @IsString()
  @MinLength(1)
  @Trimmed()
  SECRETS_DIR = '.data';

  /**
   * A running sign-up renews its hold on its row every quarter of this (at least once a minute); a row left in
   * `provisioning` untouched this long was left by a process that died, and the first app process to sweep (each
   * does as often) finishes it.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  SIGNUP_RESUME_AFTER_MS = 120_000;

  /** `admin`: only the platform operator signs organizations up; `open`: anyone may (with an owner). */
  @IsIn(['admin', 'open'])
  SIGNUP_MODE: 'admin' | 'open' = 'admin';

  /**
   * Comma-separated browser origins allowed by CORS (e.g. `https://app.example.com`); empty: none. Each is taken as
   * a browser sends it (`Origin` is compared as a string): its host lowercased, a default port dropped.
   */
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((origin) => origin.trim())
          .filter((origin) => origin !== '')
          .map(asSent)
      : value,
  )
  @IsString({ each: true })
  @ValidateBy(
    {
      name: 'isOrigin',
      validator: { validate: (origin: unknown) => typeof origin === 'string' && isOrigin(origin) },
    },
    {
      each: true,
      message: 'CORS_ORIGINS must be a comma-separated list of origins such as https://app.example.com',
    },
  )
  CORS_ORIGINS: string[] = [];

  /**
   * Serve `GET /internal/stats` (connection-registry counters, the tenant registry's answers, spare pool,
   * memory), left out of the OpenAPI document.
   */
  @Transform(toBool)
  @IsBoolean()
  INTERNAL_STATS_ENABLED = false;

  /** Every connection the process may hold: its pools, the maintenance sessions and the change listener's one. */
  get connectionCeiling(): number {
    return (
      this.CONTROL_POOL_MAX +
      1 +
      2 * this.DB_MAINTENANCE_SESSIONS +
      this.TENANT_MAX_OPEN * this.TENANT_POOL_MAX
    );
  }
}

/** How AppConfig's connectionCeiling is made up, for messages. */
export const CONNECTION_CEILING_SUM =
  'TENANT_MAX_OPEN x TENANT_POOL_MAX + CONTROL_POOL_MAX + 1 + 2 x DB_MAINTENANCE_SESSIONS';

export class ConfigError extends Error {}

/** PostgreSQL's own databases: no prefix + tenant id may ever spell one of them. */
const SYSTEM_DATABASES = ['postgres', 'template0', 'template1'];

/** Settings whose values a message about them must not show: it goes to the process's log. */
const SECRET_SETTINGS = new Set(['DB_PASSWORD', 'PLATFORM_ADMIN_TOKEN', 'JWT_SECRET']);

function shownValue(property: string, value: unknown): string {
  if (SECRET_SETTINGS.has(property)) {
    return typeof value === 'string' ? `(hidden, ${value.length} characters)` : '(hidden)';
  }
  return JSON.stringify(value);
}

/** Parses the environment; throws a ConfigError naming every invalid variable, secrets' values hidden. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const known = Object.keys(new AppConfig());
  const raw = Object.fromEntries(known.filter((key) => env[key] !== undefined).map((key) => [key, env[key]]));
  const config = plainToInstance(AppConfig, raw, { exposeDefaultValues: true });
  const errors = validateSync(config, { forbidUnknownValues: true });
  const problems = errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((m) => `${e.property}=${shownValue(e.property, e.value)}: ${m}`),
  );
  if (config.DB_NAME.startsWith(config.TENANT_DB_PREFIX)) {
    problems.push(
      `DB_NAME=${JSON.stringify(config.DB_NAME)}: must not start with TENANT_DB_PREFIX ` +
        `(${JSON.stringify(config.TENANT_DB_PREFIX)}), which names the databases the app creates`,
    );
  }
  if (SYSTEM_DATABASES.includes(config.DB_NAME)) {
    problems.push(
      `DB_NAME=${JSON.stringify(config.DB_NAME)}: one of PostgreSQL's own databases; the control plane needs its own`,
    );
  }
  const shadowed = SYSTEM_DATABASES.filter((name) => name.startsWith(config.TENANT_DB_PREFIX));
  if (shadowed.length > 0) {
    problems.push(
      `TENANT_DB_PREFIX=${JSON.stringify(config.TENANT_DB_PREFIX)}: a tenant database could be named ${shadowed.join(', ')}`,
    );
  }
  if (config.connectionCeiling > config.DB_CONNECTION_BUDGET) {
    problems.push(
      `TENANT_MAX_OPEN=${config.TENANT_MAX_OPEN}: ${CONNECTION_CEILING_SUM} (${config.connectionCeiling}) ` +
        `exceeds DB_CONNECTION_BUDGET (${config.DB_CONNECTION_BUDGET})`,
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return config;
}

/** For entry points: loads `.env` and the configuration, or prints what is wrong and exits with 1. */
export function loadConfigOrExit(): AppConfig {
  loadDotEnv();
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

/** Loads `.env` from the working directory into process.env when present (real environment wins). */
export function loadDotEnv(path = '.env'): void {
  try {
    process.loadEnvFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
