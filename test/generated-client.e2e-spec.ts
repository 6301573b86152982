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

  it('runs the seed flow against the running app: organization, crop with X-Tenant-ID, crop list', async () => {
    const { organization, crop, crops } = await runSeedFlow(createApiClient(baseUrl), 'Client Farm');
    expect(organization).toMatchObject({ name: 'Client Farm', tenantId: 'client-farm', status: 'active' });
    expect(crop).toMatchObject({ name: 'Heirloom Tomatoes', plantingDate: '2025-04-15' });
    expect(crops).toEqual([crop]);
  });

  it('reports an error answer with its status and body', async () => {
    await expect(runSeedFlow(createApiClient(baseUrl), '')).rejects.toThrow(
      /\/organizations answered 400: .*"code":"VALIDATION_FAILED"/,
    );
  });
});
