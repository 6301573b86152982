import type { AddressInfo } from 'node:net';
import { createApiClient, runSeedFlow } from './client/seed-flow';
import { startTestApp, stopTestApp, TestApp } from './support/test-app';

describe('a client generated from openapi.json', () => {
  let t: TestApp;
  let baseUrl: string;

  beforeAll(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(() => stopTestApp(t));

  it('runs the seed flow against the running app: organization, user, crop, harvests, report', async () => {
    const { organization, user, crop, crops, harvests, summary } = await runSeedFlow(
      createApiClient(baseUrl),
      'Client Farm',
    );
    expect(organization).toMatchObject({ name: 'Client Farm', tenantId: 'client-farm', status: 'active' });
    expect(user).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@greenvalley.example' });
    expect(crop).toMatchObject({ name: 'Heirloom Tomatoes', plantingDate: '2025-04-15' });
    expect(crops).toEqual([crop]);
    expect(harvests.map((h) => [h.cropId, h.quantity, h.unit])).toEqual([
      [crop.id, 12.5, 'kg'],
      [crop.id, 7.25, 'kg'],
    ]);
    expect(summary).toEqual([
      {
        cropId: crop.id,
        cropName: 'Heirloom Tomatoes',
        unit: 'kg',
        totalQuantity: 19.75,
        harvestCount: 2,
        firstHarvestedAt: '2025-07-20',
        lastHarvestedAt: '2025-08-02',
      },
    ]);
  });

  it('reports an error answer with its status and body', async () => {
    await expect(runSeedFlow(createApiClient(baseUrl), '')).rejects.toThrow(
      /\/organizations answered 400: .*"code":"VALIDATION_FAILED"/,
    );
  });
});
