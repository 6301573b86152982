import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';
import { RequestContext } from '@mikro-orm/core';
import { gzipSync } from 'node:zlib';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Crop } from '../src/crops/crop.entity';
import { TenantConnectionRegistry } from '../src/tenancy/tenant-connection-registry';
import { InjectTenantEntityManager } from '../src/tenancy/tenant-entity-manager';
import { TenantRegistry } from '../src/tenancy/tenant-registry';
import { TenantRoute } from '../src/tenancy/api-tenant.decorator';
import { countDatabases, countTenantDatabases } from './support/test-database';
import {
  rawRequest,
  sqlIn,
  startTestApp,
  stopTestApp,
  TestApp,
  withMaintenanceClient,
} from './support/test-app';

/** A tenant route that changes a crop in memory and never flushes: the identity-map regression probe. */
@TenantRoute()
@Controller('api/probe')
class ProbeController {
  constructor(@InjectTenantEntityManager() private readonly em: EntityManager) {}

  @Get('crops/:id/rename-in-memory')
  @ApiOkResponse({
    description: 'The name after the change in memory',
    schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
  })
  async renameInMemory(@Param('id') id: string): Promise<{ name: string }> {
    const crop = await this.em.findOneOrFail(Crop, id);
    crop.name = 'CHANGED IN MEMORY';
    return { name: crop.name };
  }
}

describe('tenant requests', () => {
  let t: TestApp;
  let greenValley: { id: string; tenantId: string };
  let sunnyAcres: { id: string; tenantId: string };

  beforeAll(async () => {
    t = await startTestApp({ controllers: [ProbeController] });
    greenValley = await t.signUp('Green Valley Co-op');
    sunnyAcres = await t.signUp('Sunny Acres', 'orchard');
  });

  afterAll(() => stopTestApp(t));

  it('runs the seed flow: create an organization, add a crop with X-Tenant-ID, list crops', async () => {
    expect(greenValley.tenantId).toBe('green-valley-co-op');
    const created = await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', 'green-valley-co-op')
      .send({ name: 'Heirloom Tomatoes', plantingDate: '2025-04-15' })
      .expect(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'Heirloom Tomatoes',
      plantingDate: '2025-04-15',
      variety: null,
      field: null,
      notes: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const list = await t.http.get('/api/crops').set('X-Tenant-ID', 'green-valley-co-op').expect(200);
    expect(list.body.map((c: { name: string }) => c.name)).toContain('Heirloom Tomatoes');
    expect(list.headers['x-total-count']).toBe(String(list.body.length));
    const rows = await sqlIn(
      `${t.prefix}green-valley-co-op`,
      'SELECT name, planting_date::text AS d FROM crops',
    );
    expect(rows).toContainEqual({ name: 'Heirloom Tomatoes', d: '2025-04-15' });
  });

  it('keeps tenants isolated: a crop created in tenant A is absent from tenant B', async () => {
    await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name: 'Only In Green Valley', plantingDate: '2025-05-01' })
      .expect(201);
    const other = await t.http.get('/api/crops').set('X-Tenant-ID', sunnyAcres.tenantId).expect(200);
    expect(other.body.map((c: { name: string }) => c.name)).not.toContain('Only In Green Valley');
    const rows = await sqlIn(`${t.prefix}${sunnyAcres.tenantId}`, 'SELECT count(*)::int AS n FROM crops');
    expect(rows[0]).toEqual({ n: 0 });
  });

  it("accepts the tenant's own organizationId and rejects another one with 400", async () => {
    await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name: 'Kale', plantingDate: '2025-03-01', organizationId: greenValley.id })
      .expect(201);
    const res = await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name: 'Kale', plantingDate: '2025-03-01', organizationId: sunnyAcres.id })
      .expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'ORGANIZATION_MISMATCH' });
  });

  it('gives each request its own EntityManager: an unflushed change in one request never leaks into the next', async () => {
    const { body: crop } = await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name: 'Original Name', plantingDate: '2025-06-01' })
      .expect(201);
    const probe = await t.http
      .get(`/api/probe/crops/${crop.id}/rename-in-memory`)
      .set('X-Tenant-ID', greenValley.tenantId)
      .expect(200);
    expect(probe.body.name).toBe('CHANGED IN MEMORY');
    // The next request of the same tenant flushes (POST) and reads (GET): neither may carry the change.
    await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name: 'Another Crop', plantingDate: '2025-06-02' })
      .expect(201);
    const list = await t.http
      .get('/api/crops?limit=200')
      .set('X-Tenant-ID', greenValley.tenantId)
      .expect(200);
    expect(list.body.find((c: { id: string }) => c.id === crop.id).name).toBe('Original Name');
    const rows = await sqlIn(`${t.prefix}${greenValley.tenantId}`, 'SELECT name FROM crops WHERE id = $1', [
      crop.id,
    ]);
    expect(rows).toEqual([{ name: 'Original Name' }]);
  });

  it("fails loudly when one tenant's ORM is used inside another tenant's request context", async () => {
    const registry = t.app.get(TenantRegistry);
    const connections = t.app.get(TenantConnectionRegistry);
    const a = await connections.acquire((await registry.find(greenValley.tenantId))!);
    const b = await connections.acquire((await registry.find(sunnyAcres.tenantId))!);
    try {
      await expect(RequestContext.create(b.orm.em, () => a.orm.em.find(Crop, {}))).rejects.toThrow(
        /global EntityManager/,
      );
      await expect(RequestContext.create(b.orm.em, () => b.orm.em.find(Crop, {}))).resolves.toEqual([]);
    } finally {
      a.release();
      b.release();
    }
  });

  it('answers 400 "Tenant identification required" on localhost without a header', async () => {
    const res = await t.http.get('/api/crops').set('Host', 'localhost:3000').expect(400);
    expect(res.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Tenant identification required',
      code: 'TENANT_REQUIRED',
    });
  });

  it.each([
    ["quote'", 400],
    ['semi;colon', 400],
    ['with space', 400],
    ['"; DROP DATABASE postgres; --', 400],
    ['UPPER', 400],
    ['a'.repeat(49), 400],
    ['unknown-farm', 404],
  ])('answers %j with %i and creates no database', async (tenantId, status) => {
    const before = await withMaintenanceClient((c) => countTenantDatabases(c, t.prefix));
    const res = await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(status);
    expect(res.body.statusCode).toBe(status);
    expect(res.body.code).toBe(status === 404 ? 'TENANT_NOT_FOUND' : 'TENANT_ID_MALFORMED');
    const written = await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', tenantId)
      .send({ name: 'x', plantingDate: '2025-01-01' });
    expect(written.status).toBe(status);
    expect(await withMaintenanceClient((c) => countTenantDatabases(c, t.prefix))).toBe(before);
  });

  it('answers 503 for a tenant that is still provisioning or whose provisioning failed', async () => {
    for (const status of ['provisioning', 'failed']) {
      await sqlIn(t.config.DB_NAME, 'UPDATE organizations SET status = $1 WHERE tenant_id = $2', [
        status,
        sunnyAcres.tenantId,
      ]);
      const res = await t.http.get('/api/crops').set('X-Tenant-ID', sunnyAcres.tenantId).expect(503);
      expect(res.body.code).toBe(
        status === 'provisioning' ? 'TENANT_PROVISIONING' : 'TENANT_PROVISIONING_FAILED',
      );
    }
    await sqlIn(t.config.DB_NAME, "UPDATE organizations SET status = 'active' WHERE tenant_id = $1", [
      sunnyAcres.tenantId,
    ]);
    await t.http.get('/api/crops').set('X-Tenant-ID', sunnyAcres.tenantId).expect(200);
  });

  it('answers 503 for a registered tenant whose database is gone, and does not recreate it', async () => {
    const { tenantId } = await t.signUp('Vanished Farm');
    const database = `${t.prefix}${tenantId}`;
    await withMaintenanceClient((c) => c.query(`DROP DATABASE "${database}" WITH (FORCE)`));
    // Its ORM is open (sign-up created the owner through it): queries fail, but as 503s, never 500s.
    for (let i = 0; i < 3; i++) {
      const open = await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(503);
      expect(open.body.code).toMatch(/^(TENANT|DATABASE)_UNAVAILABLE$/);
    }
    await t.app.get(TenantConnectionRegistry).evict(tenantId);
    const res = await t.http.get('/api/crops').set('X-Tenant-ID', tenantId).expect(503);
    expect(res.body).toMatchObject({ statusCode: 503, code: 'TENANT_UNAVAILABLE' });
    expect(await withMaintenanceClient((c) => countDatabases(c, database))).toBe(0);
  });

  it('validates crop bodies: unknown fields, empty names, impossible dates, malformed JSON', async () => {
    const post = (body: string | object) =>
      t.http
        .post('/api/crops')
        .set('X-Tenant-ID', greenValley.tenantId)
        .set('Content-Type', 'application/json')
        .send(typeof body === 'string' ? body : JSON.stringify(body));
    const cases: Array<[string | object, RegExp]> = [
      [{ name: 'Beans', plantingDate: '2025-04-01', color: 'green' }, /property color should not exist/],
      [{ name: '', plantingDate: '2025-04-01' }, /name must be longer/],
      [{ name: 'Beans', plantingDate: '2025-02-30' }, /plantingDate must be a calendar date/],
      [{ name: 'Beans' }, /plantingDate/],
      [{ name: 42, plantingDate: '2025-04-01' }, /name must be a string/],
      [{ name: 'x'.repeat(201), plantingDate: '2025-04-01' }, /name must be shorter/],
      [
        { name: 'Beans', plantingDate: '2025-04-01', organizationId: 'nope' },
        /organizationId must be a UUID/,
      ],
      [{ name: 'Beans', plantingDate: '2025-04-01', valueOf: 1 }, /valueOf should not exist/],
      [{ name: 'a\ufe0f'.repeat(100) + 'b', plantingDate: '2025-04-01' }, /name must be shorter/],
      [{ name: 'Beans', plantingDate: '2025-04-01', notes: 'x\ufe0f'.repeat(1001) }, /notes must be shorter/],
      ['{"name": ', /not valid JSON/],
      ['[]', /.+/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body).toMatchObject({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.stringMatching(message),
      });
    }
  });

  it('answers 400, not 500, to an undecodable compressed body and to absurdly nested JSON', async () => {
    // Brotli's decoder fails with codes of its own (ERR_*), zlib's with Z_* codes.
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const res = await t.http
        .post('/api/crops')
        .set('X-Tenant-ID', greenValley.tenantId)
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', encoding)
        .send(`{"name": "not ${encoding}"}`);
      expect({ encoding, status: res.status, body: res.body }).toMatchObject({
        encoding,
        status: 400,
        body: { code: 'MALFORMED_BODY', message: 'Request body could not be decompressed' },
      });
    }
    const deep = `{"name":"x","plantingDate":"2025-01-01","z":${'['.repeat(40_000)}${']'.repeat(40_000)}}`;
    const nested = await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .set('Content-Type', 'application/json')
      .send(deep)
      .expect(400);
    expect(nested.body.message).toMatch(/nested more than 32 levels deep/);
  });

  it('reads a gzip-compressed JSON body, and refuses with 415 a charset or an encoding it cannot read', async () => {
    // As sent (supertest would serialize a Buffer given with a JSON content type as JSON).
    const post = async (body: string | Buffer, contentType: string, encoding?: string) => {
      const headers = {
        authorization: `Bearer ${t.platformToken}`,
        'x-tenant-id': greenValley.tenantId,
        'content-type': contentType,
        ...(encoding ? { 'content-encoding': encoding } : {}),
      };
      const res = await rawRequest(t, { method: 'POST', path: '/api/crops', headers }, body);
      return { status: res.status, body: JSON.parse(res.text) as { name?: string; code?: string } };
    };
    const json = (name: string) => JSON.stringify({ name, plantingDate: '2025-05-01' });
    const gzipped = await post(gzipSync(json('Sent Gzipped')), 'application/json', 'gzip');
    expect({ status: gzipped.status, name: gzipped.body.name }).toEqual({
      status: 201,
      name: 'Sent Gzipped',
    });
    for (const [res, code, message] of [
      [
        await post(json('Sent As Latin 1'), 'application/json; charset=latin1'),
        'UNSUPPORTED_CHARSET',
        'charset',
      ],
      [
        await post(json('Sent Compressed'), 'application/json', 'compress'),
        'UNSUPPORTED_ENCODING',
        'encoding',
      ],
    ] as const) {
      expect(res).toMatchObject({
        status: 415,
        body: { code, message: `Unsupported request body ${message}` },
      });
    }
    const rows = await sqlIn(
      `${t.prefix}${greenValley.tenantId}`,
      `SELECT name FROM crops WHERE name IN ('Sent Gzipped', 'Sent As Latin 1', 'Sent Compressed')`,
    );
    expect(rows).toEqual([{ name: 'Sent Gzipped' }]);
  });

  it('refuses a JSON body over 100 kB with 413', async () => {
    const res = await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name: 'x', plantingDate: '2025-01-01', pad: 'y'.repeat(120_000) })
      .expect(413);
    expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('counts characters as PostgreSQL does: 200 with variation selectors fit a name', async () => {
    const name = 'a\ufe0f'.repeat(100);
    const res = await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name, plantingDate: '2025-04-01' })
      .expect(201);
    expect(res.body.name).toBe(name);
    const [row] = await sqlIn(
      `${t.prefix}${greenValley.tenantId}`,
      `SELECT char_length(name) AS n FROM crops WHERE id = '${res.body.id}'`,
    );
    expect(row).toEqual({ n: 200 });
    // 400 UTF-16 units, 200 characters.
    await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name: '🌽'.repeat(200), plantingDate: '2025-04-01' })
      .expect(201);
  });

  it('refuses with 415 a body not sent as JSON, and changes nothing', async () => {
    const crop = await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .send({ name: 'Sent As JSON', plantingDate: '2025-03-01' })
      .expect(201);
    const json = JSON.stringify({ name: 'Sent As Text', plantingDate: '2025-03-02' });
    const attempts = [
      t.http.patch(`/api/crops/${crop.body.id}`).set('Content-Type', 'text/plain').send(json),
      t.http.patch(`/api/crops/${crop.body.id}`).type('form').send(json),
      t.http.post('/api/crops').set('Content-Type', 'text/plain').send(json),
      // More fields than a form parser takes: once a 500 on any route.
      t.http
        .post('/api/crops')
        .type('form')
        .send(Array.from({ length: 1001 }, (_, i) => `f${i}=1`).join('&')),
    ];
    for (const attempt of attempts) {
      const res = await attempt.set('X-Tenant-ID', greenValley.tenantId);
      expect(res.status).toBe(415);
      expect(res.body).toEqual({
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: 'Request body must be JSON, sent with Content-Type: application/json',
        code: 'UNSUPPORTED_MEDIA_TYPE',
      });
    }
    const after = await t.http.get(`/api/crops/${crop.body.id}`).set('X-Tenant-ID', greenValley.tenantId);
    expect(after.body).toMatchObject({ name: 'Sent As JSON', plantingDate: '2025-03-01' });
    const rows = await sqlIn(
      `${t.prefix}${greenValley.tenantId}`,
      `SELECT count(*)::int AS n FROM crops WHERE name = 'Sent As Text'`,
    );
    expect(rows[0]).toEqual({ n: 0 });
    // Without a body there is nothing to refuse: the DTO names what is missing; a GET's form body is ignored.
    const empty = await t.http.post('/api/crops').set('X-Tenant-ID', greenValley.tenantId).expect(400);
    expect(empty.body).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/^name must/),
    });
    await t.http.get('/health').type('form').send('a=1&'.repeat(1001)).expect(200);
    // Only the bodies of POST, PUT and PATCH are read: a GET's broken JSON body meets no parser either.
    await t.http.get('/health').set('Content-Type', 'application/json').send('{"broken": ').expect(200);
    // JSON with a charset parameter is JSON.
    await t.http
      .post('/api/crops')
      .set('X-Tenant-ID', greenValley.tenantId)
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(JSON.stringify({ name: 'Sent With A Charset', plantingDate: '2025-03-03' }))
      .expect(201);
  });

  it('pages crops with limit/offset, newest first, and rejects a bad limit', async () => {
    const all = await t.http.get('/api/crops?limit=200').set('X-Tenant-ID', greenValley.tenantId).expect(200);
    const page = await t.http
      .get('/api/crops?limit=2&offset=1')
      .set('X-Tenant-ID', greenValley.tenantId)
      .expect(200);
    expect(page.body).toEqual(all.body.slice(1, 3));
    expect(page.headers['x-total-count']).toBe(String(all.body.length));
    const times = all.body.map((c: { createdAt: string }) => c.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
    await t.http.get('/api/crops?limit=0').set('X-Tenant-ID', greenValley.tenantId).expect(400);
    await t.http.get('/api/crops?limit=abc').set('X-Tenant-ID', greenValley.tenantId).expect(400);
    await t.http.get('/api/crops?limit=2.5').set('X-Tenant-ID', greenValley.tenantId).expect(400);
    const unknown = await t.http
      .get('/api/crops?valueOf=1')
      .set('X-Tenant-ID', greenValley.tenantId)
      .expect(400);
    expect(unknown.body.message).toBe('valueOf should not exist');
  });
});

describe('subdomain tenant resolution', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { TENANT_BASE_DOMAIN: 'farms.test' } });
    await t.signUp('Hill Top Dairy', 'dairy');
  });

  afterAll(() => stopTestApp(t));

  it('resolves the tenant from <tenant>.TENANT_BASE_DOMAIN', async () => {
    await t.http
      .post('/api/crops')
      .set('Host', 'hill-top-dairy.farms.test')
      .send({ name: 'Clover', plantingDate: '2025-04-01' })
      .expect(201);
    const res = await t.http.get('/api/crops').set('Host', 'hill-top-dairy.farms.test:8080').expect(200);
    expect(res.body.map((c: { name: string }) => c.name)).toEqual(['Clover']);
  });

  it("takes the tenant from an absolute URL's host in the request line, not from the Host header", async () => {
    const answer = await rawRequest(t, {
      method: 'GET',
      path: 'http://hill-top-dairy.farms.test/api/crops',
      headers: { host: 'unknown.farms.test', authorization: `Bearer ${t.platformToken}` },
    });
    // By the Host header it would be 404: no tenant unknown.
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual(expect.any(Array));
    const bare = await rawRequest(t, {
      method: 'GET',
      path: 'http://farms.test/api/crops',
      headers: { host: 'hill-top-dairy.farms.test', authorization: `Bearer ${t.platformToken}` },
    });
    expect(bare.status).toBe(400);
  });

  it('still needs a tenant on the bare base domain and on localhost', async () => {
    await t.http.get('/api/crops').set('Host', 'farms.test').expect(400);
    await t.http.get('/api/crops').set('Host', 'localhost').expect(400);
    await t.http.get('/api/crops').set('Host', 'unknown.farms.test').expect(404);
  });
});
