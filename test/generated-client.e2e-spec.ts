import type { AddressInfo } from 'node:net';
import { OWNER, runSeedFlow } from './client/seed-flow';
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

  it('runs the seed flow against the running app: organization, login, user, crop, harvests, report', async () => {
    const { organization, login, me, user, crop, crops, harvests, summary } = await runSeedFlow(
      baseUrl,
      t.platformToken,
      'Client Farm',
    );
    expect(organization).toMatchObject({ name: 'Client Farm', tenantId: 'client-farm', status: 'active' });
    expect(login).toMatchObject({
      tokenType: 'Bearer',
      expiresIn: 900,
      user: { email: OWNER.email, role: 'admin' },
    });
    expect(me).toEqual(login.user);
    expect(user).toMatchObject({
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@greenvalley.example',
      role: 'member',
    });
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
    await expect(runSeedFlow(baseUrl, t.platformToken, '')).rejects.toThrow(
      /\/organizations answered 400: .*"code":"VALIDATION_FAILED"/,
    );
  });
});
