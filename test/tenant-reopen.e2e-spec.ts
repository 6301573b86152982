import * as migrations from '../src/database/migrate-to-latest';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { startTestApp, stopTestApp, TestApp } from './support/test-app';

describe('reopening a tenant', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { TENANT_MAX_OPEN: '1', TENANT_SPARE_POOL: '0' } });
    await t.signUp('Reopen One');
    await t.signUp('Reopen Two');
  });

  afterAll(() => stopTestApp(t));

  afterEach(() => jest.restoreAllMocks());

  const list = (tenantId: string) => t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);

  it('skips the migration check for a tenant this process already found current, until it is evicted', async () => {
    await list('reopen-one');
    await list('reopen-two');
    const check = jest.spyOn(migrations, 'migrateToLatest');
    await list('reopen-one');
    await list('reopen-two');
    expect(check).not.toHaveBeenCalled();
    expect(t.app.get(TenantConnectionRegistry).stats().evictions).toBeGreaterThanOrEqual(3);

    await t.app.get(TenantConnectionRegistry).evict('reopen-one');
    await list('reopen-one');
    expect(check).toHaveBeenCalledTimes(1);
  });
});
