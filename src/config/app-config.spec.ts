import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('applies the defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      DB_PORT: 5432,
      DB_NAME: 'farm_tenants',
      TENANT_DB_PREFIX: 'tenant_',
      DB_HOST: undefined,
      TENANT_BASE_DOMAIN: undefined,
    });
    expect(config.connectionCeiling).toBeLessThanOrEqual(config.DB_CONNECTION_BUDGET);
  });

  it('reads and converts the environment', () => {
    const config = loadConfig({
      DB_HOST: 'db',
      PORT: '8080',
      TENANT_BASE_DOMAIN: 'farms.example.com',
      SWAGGER_ENABLED: 'false',
      TENANT_SLOT_WAIT_MS: '2500',
    });
    expect(config).toMatchObject({
      DB_HOST: 'db',
      PORT: 8080,
      TENANT_BASE_DOMAIN: 'farms.example.com',
      SWAGGER_ENABLED: false,
      TENANT_SLOT_WAIT_MS: 2500,
    });
  });

  it.each([
    ['PORT', 'eighty'],
    ['DB_PORT', '70000'],
    ['TENANT_DB_PREFIX', 'Tenant-'],
    ['TENANT_DB_PREFIX', 'a_prefix_that_is_too_long'],
    ['DB_NAME', 'bad"name'],
    ['TENANT_BASE_DOMAIN', 'Not A Domain'],
    ['NODE_ENV', 'staging'],
    ['TENANT_POOL_MAX', '0'],
    ['TENANT_SLOT_WAIT_MS', '0'],
    ['TENANT_SLOT_WAIT_MS', '600000'],
    ['DB_MAINTENANCE_SESSIONS', '0'],
    ['DB_MAINTENANCE_SESSIONS', '11'],
    ['TENANT_CHANGES_HEARTBEAT_MS', '2'],
    ['TENANT_CHANGES_HEARTBEAT_MS', '-1'],
    ['SIGNUP_RESUME_AFTER_MS', '999'],
    ['SIGNUP_RESUME_AFTER_MS', '3600001'],
    ['SIGNUP_RESUME_AFTER_MS', 'soon'],
    ['DB_HOST', '127.0.0.1 '],
    ['DB_USER', ' postgres'],
    ['EMBEDDED_PG_DIR', ' '],
    ['SECRETS_DIR', '.data\n'],
  ])('stops with a message naming %s when it is %j', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^\\s*${name}=`, 'm'));
  });

  it.each(['JWT_SECRET', 'PLATFORM_ADMIN_TOKEN'])('names %s without showing its value', (name) => {
    const value = 'short-but-secret-value';
    expect(() => loadConfig({ [name]: value })).toThrow(
      new RegExp(`^\\s*${name}=\\(hidden, 22 characters\\): ${name} must be at least 32 characters$`, 'm'),
    );
    expect(() => loadConfig({ [name]: value })).not.toThrow(/short-but-secret/);
  });

  it.each([
    ['a space', 'platform token with a space 1234567890'],
    ['a line break', 'platform-token-from-a-file-1234567890\n'],
    ['a non-ASCII letter', 'platform-token-café-12345678901234567890'],
  ])('refuses a PLATFORM_ADMIN_TOKEN with %s, which no Bearer header can carry', (_what, value) => {
    expect(() => loadConfig({ PLATFORM_ADMIN_TOKEN: value })).toThrow(
      /^\s*PLATFORM_ADMIN_TOKEN=\(hidden, \d+ characters\): PLATFORM_ADMIN_TOKEN must be printable ASCII/m,
    );
    expect(() => loadConfig({ PLATFORM_ADMIN_TOKEN: value })).not.toThrow(/platform.token/);
  });

  it('takes CORS origins as browsers send them: the host lowercased, a default port dropped', () => {
    const config = loadConfig({
      CORS_ORIGINS: 'https://App.Example.com:443, http://localhost:3000,HTTP://Farm.example:80',
    });
    expect(config.CORS_ORIGINS).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
      'http://farm.example',
    ]);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://user@app.example.com' })).toThrow(/^\s*CORS_ORIGINS=/m);
    for (const origin of [
      'https://app.example.com/path',
      'https://app.example.com?x',
      'https://host:99999',
    ]) {
      expect(() => loadConfig({ CORS_ORIGINS: origin })).toThrow(/^\s*CORS_ORIGINS=/m);
    }
  });

  it('keeps the control-plane database and the system databases out of the tenant namespace', () => {
    expect(() => loadConfig({ TENANT_DB_PREFIX: 'farm_', DB_NAME: 'farm_control' })).toThrow(
      /DB_NAME="farm_control": must not start with TENANT_DB_PREFIX/,
    );
    expect(() => loadConfig({ TENANT_DB_PREFIX: 'template' })).toThrow(/could be named template0, template1/);
    expect(() => loadConfig({ TENANT_DB_PREFIX: 'post' })).toThrow(/could be named postgres/);
    for (const name of ['postgres', 'template0', 'template1']) {
      expect(() => loadConfig({ DB_NAME: name })).toThrow(
        new RegExp(`DB_NAME="${name}": one of PostgreSQL's own databases`),
      );
    }
  });

  it('refuses pools that could exceed the connection budget', () => {
    expect(() =>
      loadConfig({ TENANT_MAX_OPEN: '100', TENANT_POOL_MAX: '2', DB_CONNECTION_BUDGET: '80' }),
    ).toThrow(/TENANT_MAX_OPEN=100.*exceeds DB_CONNECTION_BUDGET/);
    // 36 x 2 + 5 control + the change listener's 1 + 2 connections per maintenance session: 82 with two
    // sessions, 80 with one.
    const pools = { TENANT_MAX_OPEN: '36', TENANT_POOL_MAX: '2', DB_CONNECTION_BUDGET: '80' };
    expect(() => loadConfig(pools)).toThrow(/\(82\) exceeds DB_CONNECTION_BUDGET \(80\)/);
    expect(loadConfig({ ...pools, DB_MAINTENANCE_SESSIONS: '1' }).connectionCeiling).toBe(80);
  });
});
