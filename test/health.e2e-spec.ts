import { SilentProxy } from './support/silent-proxy';
import { startTestApp, stopTestApp, TestApp } from './support/test-app';

describe('readiness through a control-plane connection that stops answering', () => {
  let proxy: SilentProxy | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    proxy = await SilentProxy.start();
    t = await startTestApp({
      env: { DB_HOST: '127.0.0.1', DB_PORT: String(proxy.port), TENANT_SPARE_POOL: '0' },
    });
  });

  afterAll(async () => {
    // First: the app's close would wait for the silenced connection's statement.
    await proxy?.close();
    if (t) await stopTestApp(t);
  });

  it('answers 503 NOT_READY within its 5 s instead of waiting for the answer', async () => {
    await t!.anon.get('/health/ready').expect(200);
    expect(proxy!.silence('farm-management:control')).toBeGreaterThan(0);
    const started = Date.now();
    const res = await t!.anon.get('/health/ready').timeout(15_000);
    expect({ status: res.status, code: (res.body as { code?: string }).code }).toEqual({
      status: 503,
      code: 'NOT_READY',
    });
    const waitedMs = Date.now() - started;
    expect(waitedMs).toBeGreaterThanOrEqual(4_900);
    expect(waitedMs).toBeLessThan(8_000);
  });
});
