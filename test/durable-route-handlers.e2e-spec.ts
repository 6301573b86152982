import { Injector } from '@nestjs/core/injector/injector';
import { RouterExecutionContext } from '@nestjs/core/router/router-execution-context';
import { TenantContextIdStrategy } from '../src/tenancy/tenant-context-id.strategy';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { startTestApp, stopTestApp, TestApp } from './support/test-app';

/** Covers src/tenancy/durable-route-handlers.ts, the one place that reaches into @nestjs/core internals. */
describe('durable route handlers', () => {
  let t: TestApp;
  let green: string;
  let blue: string;

  beforeAll(async () => {
    t = await startTestApp();
    green = (await t.signUp('Green Acre')).tenantId;
    blue = (await t.signUp('Blue Acre')).tenantId;
  });

  afterAll(() => stopTestApp(t));

  afterEach(() => jest.restoreAllMocks());

  const list = (tenantId: string, query = '') =>
    t.http.get(`/api/crops${query}`).set('X-Tenant-ID', tenantId);

  it("builds a tenant's route handler once per durable subtree, not once per request", async () => {
    await list(green).expect(200);
    const create = jest.spyOn(RouterExecutionContext.prototype, 'create');
    for (let i = 0; i < 5; i++) await list(green).expect(200);
    expect(create).not.toHaveBeenCalled();

    await list(blue).expect(200);
    await list(blue).expect(200);
    const afterBlue = create.mock.calls.length;

    await t.app.get(TenantConnectionRegistry).evict(green);
    await list(green).expect(200);
    expect(create.mock.calls.length).toBeGreaterThan(afterBlue);
  });

  it("resolves a tenant's durable controller through Nest once per subtree, then goes straight to its handler", async () => {
    await list(green).expect(200);
    const resolve = jest.spyOn(Injector.prototype, 'loadPerContext');
    const attach = jest.spyOn(TenantContextIdStrategy.prototype, 'attach');
    for (let i = 0; i < 5; i++) await list(green).expect(200);
    expect(resolve).not.toHaveBeenCalled();
    expect(attach).not.toHaveBeenCalled();

    await t.app.get(TenantConnectionRegistry).evict(green);
    await list(green).expect(200);
    expect(resolve).toHaveBeenCalledTimes(1);
    expect(attach).toHaveBeenCalledTimes(1);
    await list(green).expect(200);
    expect(resolve).toHaveBeenCalledTimes(1);
  });

  it('still runs validation and the handler per request on a memoized handler', async () => {
    await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', green)
      .send({ name: 'Kale', plantingDate: '2025-03-01' })
      .expect(201);
    await list(green, '?limit=0').expect(400);
    const one = await list(green, '?limit=1').expect(200);
    expect(one.body).toHaveLength(1);
    expect(one.headers['x-total-count']).toBe('1');
    const other = await list(blue).expect(200);
    expect(other.body).toEqual([]);
  });
});
