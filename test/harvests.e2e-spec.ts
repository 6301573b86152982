import type { Response } from 'supertest';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { asTenant, sqlIn, startTestApp, stopTestApp, TestApp, whileLockedIn } from './support/test-app';
import { until } from './support/until';

describe('harvests and the harvest summary', () => {
  let t: TestApp;
  const A = 'harvest-farm-a';
  const B = 'harvest-farm-b';
  const as = (tenant: string) => asTenant(t, tenant);
  let tomatoes: string;
  let corn: string;

  beforeAll(async () => {
    t = await startTestApp();
    await t.signUp('Harvest Farm A');
    await t.signUp('Harvest Farm B');
    tomatoes = (await as(A).post('/api/crops', { name: 'Tomatoes', plantingDate: '2025-04-01' })).body.id;
    corn = (await as(A).post('/api/crops', { name: 'Corn', plantingDate: '2025-04-02' })).body.id;
  });

  afterAll(() => stopTestApp(t));

  it('records a harvest with a decimal quantity as a JSON number, defaulting harvestedAt to today', async () => {
    const today = () => new Date().toISOString().slice(0, 10);
    const before = today();
    const res = await as(A)
      .post('/api/harvests', { cropId: tomatoes, quantity: 12.345, unit: 'kg' })
      .expect(201);
    // Today in UTC, the day the request began or ended in (one may be past midnight).
    expect([before, today()]).toContain(res.body.harvestedAt);
    expect(res.headers.location).toBe(`/api/harvests/${res.body.id}`);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      cropId: tomatoes,
      quantity: 12.345,
      unit: 'kg',
      harvestedAt: res.body.harvestedAt,
      notes: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const id = res.body.id as string;
    expect((await as(A).get(`/api/harvests/${id}`).expect(200)).body).toEqual(res.body);
    const moved = await as(A)
      .patch(`/api/harvests/${id}`, {
        cropId: corn,
        quantity: 3,
        unit: 'crate',
        harvestedAt: '2025-08-01',
        notes: 'x',
      })
      .expect(200);
    expect(moved.body).toMatchObject({
      cropId: corn,
      quantity: 3,
      unit: 'crate',
      harvestedAt: '2025-08-01',
      notes: 'x',
    });
    await as(A).delete(`/api/harvests/${id}`).expect(204);
    await as(A).get(`/api/harvests/${id}`).expect(404);
  });

  it('validates harvests: quantity, unit, dates, crop', async () => {
    const cases: Array<[object, number, RegExp]> = [
      [{ cropId: tomatoes, quantity: 0, unit: 'kg' }, 400, /quantity must be a positive number/],
      [{ cropId: tomatoes, quantity: -2, unit: 'kg' }, 400, /quantity must be a positive number/],
      [{ cropId: tomatoes, quantity: '5', unit: 'kg' }, 400, /quantity must be a number/],
      [{ cropId: tomatoes, quantity: 1.2345, unit: 'kg' }, 400, /at most 3 decimal places/],
      [{ cropId: tomatoes, quantity: 1e12, unit: 'kg' }, 400, /quantity must not be greater than/],
      [{ cropId: tomatoes, quantity: 1, unit: 'ton' }, 400, /unit must be one of: kg, bushel, crate/],
      [
        { cropId: tomatoes, quantity: 1, unit: 'kg', harvestedAt: '2025-13-01' },
        400,
        /harvestedAt must be a calendar date/,
      ],
      [{ cropId: 'tomatoes', quantity: 1, unit: 'kg' }, 400, /cropId must be a UUID/],
      [{ quantity: 1, unit: 'kg' }, 400, /cropId/],
      [{ cropId: '00000000-0000-4000-8000-000000000000', quantity: 1, unit: 'kg' }, 404, /Crop .* not found/],
      // Any UUID in OpenAPI's format, as a path id takes it: not only versions 1-8 with RFC 4122's variant.
      [{ cropId: '00000000-0000-0000-0000-000000000001', quantity: 1, unit: 'kg' }, 404, /Crop .* not found/],
    ];
    for (const [body, status, message] of cases) {
      const res = await as(A).post('/api/harvests', body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(res.body.message).toMatch(message);
    }
  });

  it("keeps harvests on or after their crop's planting date, on both sides", async () => {
    const crop = (await as(A).post('/api/crops', { name: 'Garlic', plantingDate: '2025-10-01' })).body.id;
    const before = await as(A).post('/api/harvests', {
      cropId: crop,
      quantity: 1,
      unit: 'kg',
      harvestedAt: '2025-09-30',
    });
    expect([before.status, before.body.code]).toEqual([400, 'HARVEST_BEFORE_PLANTING']);
    expect(before.body.message).toBe(
      `harvestedAt 2025-09-30 is before the planting date 2025-10-01 of crop ${crop}`,
    );
    const harvest = (
      await as(A)
        .post('/api/harvests', { cropId: crop, quantity: 1, unit: 'kg', harvestedAt: '2025-10-01' })
        .expect(201)
    ).body.id;
    const earlier = await as(A).patch(`/api/harvests/${harvest}`, { harvestedAt: '2025-01-01' });
    expect([earlier.status, earlier.body.code]).toEqual([400, 'HARVEST_BEFORE_PLANTING']);
    // Moved to a crop planted later than the harvest (Tomatoes: 2025-04-01; a Garlic harvest of 2025-10-01 is fine).
    const late = (await as(A).post('/api/crops', { name: 'Late Leek', plantingDate: '2025-11-01' })).body.id;
    const moved = await as(A).patch(`/api/harvests/${harvest}`, { cropId: late });
    expect([moved.status, moved.body.code]).toEqual([400, 'HARVEST_BEFORE_PLANTING']);
    await as(A).patch(`/api/harvests/${harvest}`, { quantity: 2 }).expect(200);
    const replanted = await as(A).patch(`/api/crops/${crop}`, { plantingDate: '2025-10-02' });
    expect([replanted.status, replanted.body.code]).toEqual([409, 'PLANTING_AFTER_HARVEST']);
    expect(replanted.body.message).toMatch(
      /has a harvest on 2025-10-01, before the planting date 2025-10-02/,
    );
    await as(A)
      .patch(`/api/crops/${crop}`, { plantingDate: '2025-10-01', name: 'Winter Garlic' })
      .expect(200);
    expect((await as(A).get(`/api/harvests/${harvest}`).expect(200)).body).toMatchObject({
      cropId: crop,
      quantity: 2,
      harvestedAt: '2025-10-01',
    });
    // A harvest stored before the rule, dated before planting: a form sending every field back still saves, as does
    // a crop form sending its planting date back, or an earlier one.
    await sqlIn(`${t.prefix}${A}`, `UPDATE harvests SET harvested_at = '2025-09-01' WHERE id = $1`, [
      harvest,
    ]);
    const full = { cropId: crop, quantity: 3, unit: 'kg', harvestedAt: '2025-09-01', notes: null };
    expect((await as(A).patch(`/api/harvests/${harvest}`, full).expect(200)).body.quantity).toBe(3);
    await as(A).patch(`/api/crops/${crop}`, { name: 'Garlic', plantingDate: '2025-10-01' }).expect(200);
    await as(A).patch(`/api/crops/${crop}`, { plantingDate: '2025-09-15' }).expect(200);
  });

  it("filters harvests by crop, unit and date range, and lists a crop's harvests", async () => {
    const fixtures: Array<[string, number, string, string]> = [
      [tomatoes, 10, 'kg', '2025-07-01'],
      [tomatoes, 2, 'crate', '2025-07-10'],
      [corn, 5, 'bushel', '2025-08-15'],
      [corn, 7.5, 'bushel', '2025-09-01'],
    ];
    for (const [cropId, quantity, unit, harvestedAt] of fixtures) {
      await as(A).post('/api/harvests', { cropId, quantity, unit, harvestedAt }).expect(201);
    }
    const quantities = (body: Array<{ quantity: number }>) =>
      body.map((h) => h.quantity).sort((a, b) => a - b);
    expect(quantities((await as(A).get(`/api/harvests?cropId=${corn}`).expect(200)).body)).toEqual([5, 7.5]);
    expect(quantities((await as(A).get('/api/harvests?unit=crate').expect(200)).body)).toEqual([2]);
    const july = await as(A).get('/api/harvests?from=2025-07-01&to=2025-07-31').expect(200);
    expect(quantities(july.body)).toEqual([2, 10]);
    expect(july.headers['x-total-count']).toBe('2');
    const ofCrop = await as(A).get(`/api/crops/${tomatoes}/harvests?limit=1`).expect(200);
    expect(ofCrop.body).toHaveLength(1);
    expect(ofCrop.headers['x-total-count']).toBe('2');
    await as(A).get('/api/crops/00000000-0000-4000-8000-000000000000/harvests').expect(404);
    await as(A).get('/api/harvests?unit=ton').expect(400);
    await as(A).get('/api/harvests?from=2025-09-01&to=2025-01-01').expect(400);
  });

  it("reads a crop's newest harvests from (crop_id, created_at, id), however many the other crops have", async () => {
    const C = (await t.signUp('Harvest Farm C')).tenantId;
    const database = `${t.prefix}${C}`;
    const cropIn = async (name: string) =>
      (await as(C).post('/api/crops', { name, plantingDate: '2024-03-01' }).expect(201)).body.id as string;
    const orchard = await cropIn('Old Orchard');
    const field = await cropIn('Busy Field');
    // The orchard's harvests are two years old; the field's, many more, are recent: walking created_at from the
    // newest meets only the field's.
    const fill = (crop: string, count: number, daysAgo: number) =>
      sqlIn(
        database,
        `INSERT INTO harvests (id, crop_id, quantity, unit, harvested_at, created_at, updated_at)
         SELECT gen_random_uuid(), $1, 1, 'kg', current_date - $3::int,
                now() - make_interval(days => $3::int, secs => i), now()
           FROM generate_series(1, $2::int) AS i`,
        [crop, count, daysAgo],
      );
    await fill(orchard, 2_000, 730);
    await fill(field, 40_000, 1);
    await sqlIn(database, 'ANALYZE harvests');
    const scansOf = async (index: string) =>
      Number(
        (
          await sqlIn<{ scans: string }>(
            database,
            'SELECT idx_scan AS scans FROM pg_stat_user_indexes WHERE indexrelname = $1',
            [index],
          )
        )[0]?.scans ?? -1,
      );
    const scans = () => scansOf('harvests_crop_id_created_at_id_index');
    // The page's total (a subquery of the same statement) uses the index whatever the page does: the page must not
    // walk created_at either.
    const walks = () => scansOf('harvests_created_at_id_index');
    const before = await scans();
    const walksBefore = await walks();
    expect(before).toBeGreaterThanOrEqual(0);
    expect(walksBefore).toBeGreaterThanOrEqual(0);

    const page = await as(C).get(`/api/crops/${orchard}/harvests?limit=50`).expect(200);
    expect(page.headers['x-total-count']).toBe('2000');
    expect(page.body).toHaveLength(50);
    const created = page.body.map((h: { createdAt: string }) => h.createdAt);
    expect(created).toEqual([...created].sort().reverse());
    // A session's statistics reach pg_stat_user_indexes when it ends (or idles 10 s): close the tenant's pool.
    await t.app.get(TenantConnectionRegistry).evict(C);
    await until(async () => (await scans()) > before, 5_000);
    expect(await scans()).toBeGreaterThan(before);
    expect(await walks()).toBe(walksBefore);
  });

  it('answers 404 for a harvest id of another tenant, for every route', async () => {
    const { body: harvest } = await as(A).post('/api/harvests', {
      cropId: tomatoes,
      quantity: 1,
      unit: 'kg',
    });
    await as(B).get(`/api/harvests/${harvest.id}`).expect(404);
    await as(B).patch(`/api/harvests/${harvest.id}`, { quantity: 99 }).expect(404);
    await as(B).delete(`/api/harvests/${harvest.id}`).expect(404);
    expect((await as(B).get('/api/harvests').expect(200)).body).toEqual([]);
    expect((await as(A).get(`/api/harvests/${harvest.id}`).expect(200)).body.quantity).toBe(1);
  });

  describe('writes racing a transaction of another session', () => {
    /** `sql` in a transaction of another session on A's database, committed once `request` waits for its locks. */
    const racing = (sql: string, params: unknown[], request: () => PromiseLike<Response>) =>
      whileLockedIn(`${t.prefix}${A}`, [[sql, params]], request);
    const newCrop = async (name: string) =>
      (await as(A).post('/api/crops', { name, plantingDate: '2025-05-01' }).expect(201)).body.id as string;
    const newHarvest = async (cropId: string) =>
      (await as(A).post('/api/harvests', { cropId, quantity: 1, unit: 'kg' }).expect(201)).body.id as string;

    it('a crop or a harvest deleted while a PATCH waits for it answers 404, not 200 for nothing', async () => {
      const crop = await newCrop('Racing Radish');
      const renamed = await racing('DELETE FROM crops WHERE id = $1', [crop], () =>
        as(A).patch(`/api/crops/${crop}`, { name: 'Renamed' }),
      );
      expect([renamed.status, renamed.body.code]).toEqual([404, 'CROP_NOT_FOUND']);
      const harvest = await newHarvest(tomatoes);
      const changed = await racing('DELETE FROM harvests WHERE id = $1', [harvest], () =>
        as(A).patch(`/api/harvests/${harvest}`, { quantity: 2 }),
      );
      expect([changed.status, changed.body.code]).toEqual([404, 'HARVEST_NOT_FOUND']);
    });

    it('a harvest deleted by another session while a DELETE waits for it answers 404, not a second 204', async () => {
      const harvest = await newHarvest(tomatoes);
      const deleted = await racing('DELETE FROM harvests WHERE id = $1', [harvest], () =>
        as(A).delete(`/api/harvests/${harvest}`),
      );
      expect([deleted.status, deleted.body.code]).toEqual([404, 'HARVEST_NOT_FOUND']);
    });

    it('a harvest whose crop is deleted meanwhile answers 404 CROP_NOT_FOUND, on POST and on PATCH', async () => {
      const crop = await newCrop('Vanishing Beet');
      const added = await racing('DELETE FROM crops WHERE id = $1', [crop], () =>
        as(A).post('/api/harvests', { cropId: crop, quantity: 1, unit: 'kg' }),
      );
      expect([added.status, added.body.code]).toEqual([404, 'CROP_NOT_FOUND']);
      const other = await newCrop('Vanishing Chard');
      const harvest = await newHarvest(tomatoes);
      const moved = await racing('DELETE FROM crops WHERE id = $1', [other], () =>
        as(A).patch(`/api/harvests/${harvest}`, { cropId: other }),
      );
      expect([moved.status, moved.body.code]).toEqual([404, 'CROP_NOT_FOUND']);
      expect((await as(A).get(`/api/harvests/${harvest}`).expect(200)).body.cropId).toBe(tomatoes);
    });

    it('a crop deleted while a harvest of it is being added answers 409 CROP_HAS_HARVESTS', async () => {
      const crop = await newCrop('Contested Leek');
      const deleted = await racing(
        `INSERT INTO harvests (id, crop_id, quantity, unit, harvested_at)
         VALUES (gen_random_uuid(), $1, 1, 'kg', current_date)`,
        [crop],
        () => as(A).delete(`/api/crops/${crop}`),
      );
      expect([deleted.status, deleted.body.code]).toEqual([409, 'CROP_HAS_HARVESTS']);
      await as(A).get(`/api/crops/${crop}`).expect(200);
    });
  });

  describe('GET /api/reports/harvest-summary', () => {
    const C = 'report-farm';
    let beans: string;
    let peas: string;

    beforeAll(async () => {
      await t.signUp('Report Farm');
      beans = (await as(C).post('/api/crops', { name: 'Beans', plantingDate: '2025-03-01' })).body.id;
      peas = (await as(C).post('/api/crops', { name: 'Peas', plantingDate: '2025-03-02' })).body.id;
      // 3,000 harvests with known sums: beans 0.125 kg on each day i (1..1000) of 2024-2026, peas 1 crate / 2 bushels.
      await sqlIn(
        `${t.prefix}${C}`,
        `INSERT INTO harvests (id, crop_id, quantity, unit, harvested_at)
         SELECT gen_random_uuid(), $1::uuid, 0.125, 'kg', date '2024-01-01' + i FROM generate_series(1, 1000) AS i
         UNION ALL
         SELECT gen_random_uuid(), $2::uuid, 1, 'crate', date '2024-01-01' + i FROM generate_series(1, 1000) AS i
         UNION ALL
         SELECT gen_random_uuid(), $2::uuid, 2.5, 'bushel', date '2025-01-01' + i FROM generate_series(1, 1000) AS i`,
        [beans, peas],
      );
    });

    it('sums thousands of harvests per crop and unit', async () => {
      const res = await as(C).get('/api/reports/harvest-summary').expect(200);
      expect(res.body).toEqual([
        {
          cropId: beans,
          cropName: 'Beans',
          unit: 'kg',
          totalQuantity: 125,
          harvestCount: 1000,
          firstHarvestedAt: '2024-01-02',
          lastHarvestedAt: '2026-09-27',
        },
        {
          cropId: peas,
          cropName: 'Peas',
          unit: 'bushel',
          totalQuantity: 2500,
          harvestCount: 1000,
          firstHarvestedAt: '2025-01-02',
          lastHarvestedAt: '2027-09-28',
        },
        {
          cropId: peas,
          cropName: 'Peas',
          unit: 'crate',
          totalQuantity: 1000,
          harvestCount: 1000,
          firstHarvestedAt: '2024-01-02',
          lastHarvestedAt: '2026-09-27',
        },
      ]);
    });

    it('restricts to a date range and a crop', async () => {
      const res = await as(C)
        .get(`/api/reports/harvest-summary?from=2024-01-02&to=2024-01-11&cropId=${peas}`)
        .expect(200);
      expect(res.body).toEqual([
        expect.objectContaining({ cropId: peas, unit: 'crate', totalQuantity: 10, harvestCount: 10 }),
      ]);
      expect((await as(C).get('/api/reports/harvest-summary?from=2030-01-01').expect(200)).body).toEqual([]);
      await as(C).get('/api/reports/harvest-summary?from=2025-01-02&to=2025-01-01').expect(400);
      await as(C).get('/api/reports/harvest-summary?cropId=beans').expect(400);
    });

    it('sees only its own tenant', async () => {
      const res = await as(A).get('/api/reports/harvest-summary').expect(200);
      expect(res.body.map((r: { cropName: string }) => r.cropName)).not.toContain('Beans');
    });

    it('orders by crop name ignoring case, whatever the collation of the database', async () => {
      for (const name of ['Zucchini', 'alfalfa', 'Broccoli']) {
        const crop = (await as(C).post('/api/crops', { name, plantingDate: '2019-01-01' }).expect(201)).body
          .id;
        await as(C).post('/api/harvests', {
          cropId: crop,
          quantity: 1,
          unit: 'kg',
          harvestedAt: '2019-06-01',
        });
      }
      const res = await as(C).get('/api/reports/harvest-summary?to=2019-12-31').expect(200);
      expect(res.body.map((r: { cropName: string }) => r.cropName)).toEqual([
        'alfalfa',
        'Broccoli',
        'Zucchini',
      ]);
    });
  });
});
