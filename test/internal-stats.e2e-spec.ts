import { startTestApp, stopTestApp, TestApp } from './support/test-app';

describe('GET /internal/stats', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    await stopTestApp(t);
    t = undefined;
  });

  it('answers 404 unless INTERNAL_STATS_ENABLED', async () => {
    t = await startTestApp();
    const res = await t.http.get('/internal/stats').expect(404);
    expect(res.body).toMatchObject({ statusCode: 404 });
  });

  it('reports the connection registry counters, the tenant registry answers and memory when enabled', async () => {
    t = await startTestApp({ env: { INTERNAL_STATS_ENABLED: 'true' } });
    const { tenantId } = await t.signUp('Stats Farm');
    await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);
    await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(200);
    const res = await t.http.get('/internal/stats').expect(200);
    // Sign-up opened the tenant to create its owner; the owner's login and the two requests were hits.
    expect(res.body.registry).toEqual({
      open: 1,
      kept: 0,
      hits: 3,
      opens: 1,
      reopens: 0,
      evictions: 0,
      idleCloses: 0,
      dropped: 0,
      failedOpenings: 0,
      refused: 0,
      replaced: 0,
    });
    // The change listener is connected; the test app caches no answer (both time-to-lives 0).
    expect(res.body.tenantRegistry).toEqual({ listening: true, cached: 0 });
    await t.anon.get('/internal/stats').expect(401);
    expect(res.body.memory.heapUsed).toBeGreaterThan(0);
  });
});
