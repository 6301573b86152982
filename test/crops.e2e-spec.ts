import { asTenant, startTestApp, stopTestApp, TestApp } from './support/test-app';

describe('crops', () => {
  let t: TestApp;
  const A = 'crops-farm-a';
  const B = 'crops-farm-b';
  const as = (tenant: string) => asTenant(t, tenant);
  const names = (body: Array<{ name: string }>) => body.map((c) => c.name);

  beforeAll(async () => {
    t = await startTestApp();
    await t.signUp('Crops Farm A');
    await t.signUp('Crops Farm B');
    for (const [name, plantingDate] of [
      ['Heirloom Tomatoes', '2025-04-15'],
      ['Cherry Tomatoes', '2025-05-01'],
      ['Sweet Corn', '2025-05-20'],
      ['100% Organic Kale', '2025-06-10'],
    ]) {
      await as(A).post('/api/crops', { name, plantingDate }).expect(201);
      await new Promise((r) => setTimeout(r, 5));
    }
  });

  afterAll(() => stopTestApp(t));

  it('creates a crop with its optional fields, reads, updates (clearing with null) and deletes it', async () => {
    const created = await as(A)
      .post('/api/crops', {
        name: 'Pumpkins',
        plantingDate: '2025-06-01',
        variety: 'Atlantic Giant',
        field: 'East field',
        notes: 'Needs space',
      })
      .expect(201);
    expect(created.body).toMatchObject({
      variety: 'Atlantic Giant',
      field: 'East field',
      notes: 'Needs space',
    });
    const id = created.body.id as string;
    expect(created.headers.location).toBe(`/api/crops/${id}`);
    expect((await as(A).get(created.headers.location).expect(200)).body).toEqual(created.body);
    const updated = await as(A)
      .patch(`/api/crops/${id}`, { plantingDate: '2025-06-03', variety: null, notes: 'Moved' })
      .expect(200);
    expect(updated.body).toMatchObject({
      name: 'Pumpkins',
      plantingDate: '2025-06-03',
      variety: null,
      field: 'East field',
      notes: 'Moved',
    });
    await as(A).delete(`/api/crops/${id}`).expect(204);
    await as(A).get(`/api/crops/${id}`).expect(404);
  });

  it('filters by name (contains, case-insensitive, wildcards literal) and planting dates', async () => {
    expect(names((await as(A).get('/api/crops?name=TOMATO').expect(200)).body)).toEqual([
      'Cherry Tomatoes',
      'Heirloom Tomatoes',
    ]);
    expect(names((await as(A).get('/api/crops?name=100%25').expect(200)).body)).toEqual([
      '100% Organic Kale',
    ]);
    expect((await as(A).get('/api/crops?name=_').expect(200)).body).toEqual([]);
    const ranged = await as(A).get('/api/crops?plantedFrom=2025-05-01&plantedTo=2025-05-20').expect(200);
    expect(names(ranged.body)).toEqual(['Sweet Corn', 'Cherry Tomatoes']);
    expect(ranged.headers['x-total-count']).toBe('2');
    const bad = await as(A).get('/api/crops?plantedFrom=2025-06-01&plantedTo=2025-05-01').expect(400);
    expect(bad.body.message).toBe('plantedFrom must not be after plantedTo');
    await as(A).get('/api/crops?plantedFrom=2025-02-30').expect(400);
    await as(A).get('/api/crops?unknown=1').expect(400);
  });

  it('takes a query parameter sent empty or blank as not sent (an empty search box)', async () => {
    const all = names((await as(A).get('/api/crops').expect(200)).body);
    expect(all).toHaveLength(4);
    for (const query of ['name=&plantedFrom=&plantedTo=', 'name=%20%20&limit=&offset=']) {
      const res = await as(A).get(`/api/crops?${query}`);
      expect({ query, status: res.status, names: names(res.body) }).toEqual({
        query,
        status: 200,
        names: all,
      });
    }
    expect(names((await as(A).get('/api/crops?name=corn&plantedTo=').expect(200)).body)).toEqual([
      'Sweet Corn',
    ]);
    const unknown = await as(A).get('/api/crops?plantedfrom=').expect(400);
    expect(unknown.body.message).toBe('property plantedfrom should not exist');
  });

  it('refuses to delete a crop that has harvests (409, nothing deleted)', async () => {
    const { body: crop } = await as(A).post('/api/crops', { name: 'Beets', plantingDate: '2025-03-01' });
    await as(A).post('/api/harvests', { cropId: crop.id, quantity: 4, unit: 'kg' }).expect(201);
    const res = await as(A).delete(`/api/crops/${crop.id}`).expect(409);
    expect(res.body).toMatchObject({ statusCode: 409, code: 'CROP_HAS_HARVESTS' });
    expect(res.body.message).toMatch(/has 1 harvest/);
    await as(A).get(`/api/crops/${crop.id}`).expect(200);
  });

  it('validates bodies: 400 naming the field', async () => {
    const cases: Array<[string, string, object, RegExp]> = [
      [
        'post',
        '/api/crops',
        { name: 'X', plantingDate: '2025-04-31' },
        /plantingDate must be a calendar date/,
      ],
      [
        'post',
        '/api/crops',
        { name: 'X', plantingDate: '2025-04-01', notes: 'n'.repeat(2001) },
        /notes must be shorter/,
      ],
      [
        'post',
        '/api/crops',
        { name: 'X', plantingDate: '2025-04-01', variety: '' },
        /variety must be longer/,
      ],
      ['post', '/api/crops', { name: 'X', plantingDate: 20250401 }, /plantingDate must be a calendar date/],
    ];
    for (const [, path, body, message] of cases) {
      const res = await as(A).post(path, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.message).toMatch(message);
    }
    const { body: crop } = await as(A).post('/api/crops', { name: 'Leeks', plantingDate: '2025-03-01' });
    expect((await as(A).patch(`/api/crops/${crop.id}`, { name: null }).expect(400)).body.message).toMatch(
      /name/,
    );
    expect(
      (await as(A).patch(`/api/crops/${crop.id}`, { organizationId: crop.id }).expect(400)).body.message,
    ).toMatch(/property organizationId should not exist/);
    await as(A).get('/api/crops/nope').expect(400);
    await as(A).get('/api/crops/00000000-0000-4000-8000-000000000000').expect(404);
  });

  it('answers 404 for a crop id of another tenant, for every route', async () => {
    const { body: crop } = await as(A).post('/api/crops', {
      name: 'Secret Crop',
      plantingDate: '2025-03-01',
    });
    await as(B).get(`/api/crops/${crop.id}`).expect(404);
    await as(B).patch(`/api/crops/${crop.id}`, { name: 'Hijacked' }).expect(404);
    await as(B).delete(`/api/crops/${crop.id}`).expect(404);
    await as(B).get(`/api/crops/${crop.id}/harvests`).expect(404);
    await as(B).post('/api/harvests', { cropId: crop.id, quantity: 1, unit: 'kg' }).expect(404);
    expect(names((await as(B).get('/api/crops?name=Secret').expect(200)).body)).toEqual([]);
    expect((await as(A).get(`/api/crops/${crop.id}`).expect(200)).body.name).toBe('Secret Crop');
  });
});
