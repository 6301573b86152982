import { connectTo, countTenantDatabases, lockWaitersIn, settledLockWaiters } from './support/test-database';
import { advisoryLock, lockKey } from '../src/database/advisory-lock';
import { TENANT_MIGRATIONS } from '../migrations/tenant';
import { PasswordHasher } from '../src/auth/password-hasher';
import {
  asTenant,
  cloneTemplate,
  lockWaitersAndStatuses,
  logIn,
  OWNER_PASSWORD,
  sqlIn,
  startTestApp,
  stopTestApp,
  TestApp,
  withMaintenanceClient,
} from './support/test-app';
import { TenantSparePool } from '../src/tenancy/tenant-spare-pool';
import type { PendingOwner } from '../src/organizations/organization.entity';
import { until } from './support/until';

/**
 * A sign-up row as an attempt leaves it, its updated_at `touched` (an interval) ago: in `provisioning` a live attempt
 * renews it, one whose process died leaves it to age; or `failed`.
 */
function leaveSignUp(
  app: TestApp,
  name: string,
  touched: string,
  owner: PendingOwner | null = null,
  status: 'provisioning' | 'failed' = 'provisioning',
  databaseName?: string,
) {
  const tenantId = name.toLowerCase().replace(/ /g, '-');
  return sqlIn(
    app.config.DB_NAME,
    `INSERT INTO organizations
       (id, name, tenant_id, farm_type, status, database_name, pending_owner, updated_at, database_owned)
     VALUES (gen_random_uuid(), $1, $2, 'mixed', $6, $3, $4, now() - $5::interval, false)`,
    [name, tenantId, databaseName ?? `${app.prefix}${tenantId}`, owner, touched, status],
  );
}

/** Runs `work` with this process's clock (Date) an hour behind the database server's; timers stay real. */
async function withHostClockBehind<T>(work: () => Promise<T>): Promise<T> {
  jest.useFakeTimers({
    now: Date.now() - 3_600_000,
    advanceTimers: true,
    doNotFake: [
      'nextTick',
      'setImmediate',
      'clearImmediate',
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'queueMicrotask',
      'hrtime',
      'performance',
    ],
  });
  try {
    return await work();
  } finally {
    jest.useRealTimers();
  }
}

/** The first row `sql` returns, polling for 10 s at most. */
async function firstRow<T extends object>(database: string, sql: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [row] = await sqlIn<T>(database, sql);
    if (row) return row;
    if (Date.now() > deadline) throw new Error(`No row after 10 s: ${sql}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Sends a sign-up while its database's lock is held, so the attempt waits with its row in provisioning; runs
 * `whileWaiting`, releases the lock, and returns what it returned and the sign-up's response.
 */
async function duringSignUp<T>(
  app: TestApp,
  body: { name: string; farmType: string; owner?: object },
  whileWaiting: () => Promise<T>,
) {
  const tenantId = body.name.toLowerCase().replace(/ /g, '-');
  return withMaintenanceClient(async (holder) => {
    await advisoryLock(holder, lockKey(`database:${app.prefix}${tenantId}`));
    const signUp = app.http.post('/organizations').send(body).then();
    const seen = await whileWaiting();
    await holder.query('SELECT pg_advisory_unlock_all()');
    return { seen, response: await signUp };
  });
}

/** Waits (20 s at most) until the sign-up is no longer in provisioning, expects it active; the ms it took. */
async function activeWithin(app: TestApp, tenantId: string, since = Date.now()): Promise<number> {
  const statusOf = async () =>
    ((await app.http.get(`/organizations/${tenantId}`).expect(200)).body as { status: string }).status;
  while ((await statusOf()) === 'provisioning' && Date.now() - since < 20_000) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await statusOf()).toBe('active');
  return Date.now() - since;
}

describe('organizations (control plane)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => stopTestApp(t));

  const databasesOfThisApp = () => withMaintenanceClient((c) => countTenantDatabases(c, t.prefix));

  it('signs up an organization: 201 once its database exists and is migrated', async () => {
    const res = await t.http
      .post('/organizations')
      .send({ name: 'Green Valley Co-op', farmType: 'vegetable', logoUrl: 'https://cdn.example.com/gv.png' })
      .expect(201);
    expect(res.headers.location).toBe(`/organizations/${res.body.id}`);
    expect((await t.http.get(res.headers.location).expect(200)).body).toEqual(res.body);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'Green Valley Co-op',
      tenantId: 'green-valley-co-op',
      farmType: 'vegetable',
      logoUrl: 'https://cdn.example.com/gv.png',
      status: 'active',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const tables = await sqlIn(
      `${t.prefix}green-valley-co-op`,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    expect(tables.map((r) => r.table_name)).toEqual([
      'crops',
      'harvests',
      'login_failures',
      'mikro_orm_migrations',
      'users',
    ]);
  });

  it('gets an organization by id and by tenant id, 404 otherwise', async () => {
    const { body: created } = await t.http
      .post('/organizations')
      .send({ name: 'Lookup Farm', farmType: 'dairy' });
    const byId = await t.http.get(`/organizations/${created.id}`).expect(200);
    const bySlug = await t.http.get('/organizations/lookup-farm').expect(200);
    expect(byId.body).toEqual(created);
    expect(bySlug.body).toEqual(created);
    for (const missing of ['no-such-farm', '00000000-0000-4000-8000-000000000000', "x'; --", 'UPPER']) {
      const res = await t.http.get(`/organizations/${encodeURIComponent(missing)}`).expect(404);
      expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'ORGANIZATION_NOT_FOUND' });
    }
  });

  it("gets an organization by a tenant id in a UUID's shape, and by its id", async () => {
    const name = '4b6f0c7e 1c43 4a53 9a59 5d3c2a1f2b10';
    const { body: created } = await t.http
      .post('/organizations')
      .send({ name, farmType: 'dairy' })
      .expect(201);
    expect(created.tenantId).toBe('4b6f0c7e-1c43-4a53-9a59-5d3c2a1f2b10');
    expect((await t.http.get(`/organizations/${created.tenantId}`).expect(200)).body).toEqual(created);
    expect((await t.http.get(`/organizations/${created.id}`).expect(200)).body).toEqual(created);
  });

  it('takes a logo URL written as a URI only: percent-encoded, its domain name in ASCII', async () => {
    const encoded = 'https://cdn.example.com/logos/caf%C3%A9%20farm.png?size=2&v=a:b@c#top/1';
    const { body } = await t.http
      .post('/organizations')
      .send({ name: 'Encoded Logo Farm', farmType: 'dairy', logoUrl: encoded })
      .expect(201);
    expect(body.logoUrl).toBe(encoded);
    const before = await databasesOfThisApp();
    for (const logoUrl of [
      'https://cdn.example.com/café.png',
      'https://bücher.example/logo.png',
      'https://cdn.example.com/logo{1}.png',
      'https://cdn.example.com/a%zz.png',
      'https://cdn.example.com/a|b.png',
      'https://cdn.example.com/a.png#x#y',
    ]) {
      const res = await t.http
        .post('/organizations')
        .send({ name: 'Raw Logo Farm', farmType: 'dairy', logoUrl });
      expect({ logoUrl, status: res.status }).toEqual({ logoUrl, status: 400 });
      expect(res.body.message).toMatch(/logoUrl must be written as a URI/);
    }
    expect(await databasesOfThisApp()).toBe(before);
  });

  it('lists organizations newest first with limit/offset and X-Total-Count', async () => {
    const newest = await t.http
      .post('/organizations')
      .send({ name: 'Newest Farm', farmType: 'mixed' })
      .expect(201);
    const all = await t.http.get('/organizations?limit=200').expect(200);
    expect(all.headers['x-total-count']).toBe(String(all.body.length));
    expect(all.body.length).toBeGreaterThanOrEqual(2);
    expect(all.body[0].id).toBe(newest.body.id);
    const created = (all.body as { createdAt: string }[]).map((org) => org.createdAt);
    expect(created).toEqual([...created].sort().reverse());
    const page = await t.http.get('/organizations?limit=1&offset=1').expect(200);
    expect(page.body).toEqual([all.body[1]]);
    await t.http.get('/organizations?limit=201').expect(400);
    await t.http.get('/organizations?offset=-1').expect(400);
  });

  it('answers 409 for a taken name or a taken tenant id, creating nothing', async () => {
    await t.http.post('/organizations').send({ name: 'Twin Oaks', farmType: 'orchard' }).expect(201);
    const before = await databasesOfThisApp();
    const sameName = await t.http
      .post('/organizations')
      .send({ name: 'Twin Oaks', farmType: 'orchard' })
      .expect(409);
    expect(sameName.body).toMatchObject({
      statusCode: 409,
      error: 'Conflict',
      code: 'ORGANIZATION_NAME_TAKEN',
    });
    const sameSlug = await t.http
      .post('/organizations')
      .send({ name: 'twin  oaks!', farmType: 'mixed' })
      .expect(409);
    expect(sameSlug.body).toMatchObject({ statusCode: 409, code: 'TENANT_ID_TAKEN' });
    expect(await databasesOfThisApp()).toBe(before);
  });

  it("answers a taken name or tenant id before hashing the owner's password", async () => {
    await t.http.post('/organizations').send({ name: 'Unhashed Acres', farmType: 'orchard' }).expect(201);
    const hash = jest.spyOn(t.app.get(PasswordHasher), 'hash');
    try {
      for (const [name, code] of [
        ['Unhashed Acres', 'ORGANIZATION_NAME_TAKEN'],
        ['unhashed  acres!', 'TENANT_ID_TAKEN'],
      ]) {
        const res = await t.http.post('/organizations').send({
          name,
          farmType: 'orchard',
          owner: { firstName: 'A', lastName: 'B', email: 'a@b.co', password: 'p'.repeat(12) },
        });
        expect({ name, status: res.status, code: res.body.code }).toEqual({ name, status: 409, code });
      }
      expect(hash).not.toHaveBeenCalled();
    } finally {
      hash.mockRestore();
    }
  });

  it('drops accents from the tenant id, and takes a name spelled with a combining accent as the same name', async () => {
    const created = await t.http
      .post('/organizations')
      .send({ name: 'Ferme E\u0301clair', farmType: 'dairy' })
      .expect(201);
    expect(created.body).toMatchObject({ tenantId: 'ferme-eclair', name: 'Ferme \u00c9clair' });
    const precomposed = await t.http
      .post('/organizations')
      .send({ name: 'Ferme \u00c9clair', farmType: 'dairy' })
      .expect(409);
    expect(precomposed.body).toMatchObject({ statusCode: 409, code: 'ORGANIZATION_NAME_TAKEN' });
    const unaccented = await t.http
      .post('/organizations')
      .send({ name: 'Ferme Eclair', farmType: 'dairy' })
      .expect(409);
    expect(unaccented.body).toMatchObject({ statusCode: 409, code: 'TENANT_ID_TAKEN' });
  });

  it('finishes a failed sign-up held under an earlier tenant id rule, whose id another organization now has', async () => {
    await t.http.post('/organizations').send({ name: 'Ferme Olstykke', farmType: 'dairy' }).expect(201);
    // Failed under the rule that turned ø into a dash; its name now gives ferme-olstykke, which is taken.
    await sqlIn(
      t.config.DB_NAME,
      `INSERT INTO organizations (id, name, tenant_id, farm_type, status, database_name, updated_at)
       VALUES (gen_random_uuid(), 'Ferme Ølstykke', 'ferme-lstykke', 'dairy', 'failed', $1, now() - interval '1 hour')`,
      [`${t.prefix}ferme-lstykke`],
    );
    const repeated = await t.http
      .post('/organizations')
      .send({ name: 'Ferme Ølstykke', farmType: 'dairy' })
      .expect(201);
    expect(repeated.body).toMatchObject({ tenantId: 'ferme-lstykke', status: 'active' });
  });

  it('validates sign-ups: 400 naming the field, and nothing created', async () => {
    const before = await databasesOfThisApp();
    const cases: Array<[object, RegExp]> = [
      [{ name: 'Farm', farmType: 'ranch' }, /farmType must be one of/],
      [{ farmType: 'dairy' }, /name/],
      [{ name: '', farmType: 'dairy' }, /name must be longer/],
      [{ name: '!!!', farmType: 'dairy' }, /name must contain at least one letter or digit/],
      [{ name: 'x'.repeat(201), farmType: 'dairy' }, /name must be shorter/],
      [{ name: 'a'.repeat(49), farmType: 'dairy' }, /tenant id of 1-48/],
      [
        { name: 'Farm', farmType: 'dairy', logoUrl: 'javascript:alert(1)' },
        /logoUrl must be an http\(s\) URL/,
      ],
      [{ name: 'Farm', farmType: 'dairy', region: 'north' }, /property region should not exist/],
      [{ name: 'Farm', farmType: 'dairy', owner: 'me' }, /owner must be an object/],
      [
        { name: 'Farm', farmType: 'dairy', owner: { firstName: 'A', lastName: 'B', email: 'a@b.co' } },
        /owner\.password must be a string/,
      ],
      [
        {
          name: 'Farm',
          farmType: 'dairy',
          owner: { firstName: 'A', lastName: 'B', email: 'x', password: 'p'.repeat(12) },
        },
        /owner\.email must be an email address/,
      ],
      [{ name: 'Nul\u0000Farm', farmType: 'dairy' }, /name must not contain NUL characters/],
      // Variation selectors count as characters for PostgreSQL (varchar) though not for validator's isLength.
      [{ name: `Farm${'!\ufe0f'.repeat(99)}`, farmType: 'dairy' }, /name must be shorter/],
      [
        {
          name: 'Selector Farm',
          farmType: 'dairy',
          owner: {
            firstName: 'A',
            lastName: 'x\ufe0f'.repeat(101),
            email: 'a@b.co',
            password: 'p'.repeat(12),
          },
        },
        /owner\.lastName must be shorter than or equal to 200 characters/,
      ],
      [{ name: 'Farm', farmType: 'dairy', toString: 'x' }, /toString should not exist/],
    ];
    for (const [body, message] of cases) {
      const res = await t.http.post('/organizations').send(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.message).toMatch(message);
    }
    expect(await databasesOfThisApp()).toBe(before);
    await t.http.get('/organizations/selector-farm').expect(404);
  });

  it('runs concurrent sign-ups in DB_MAINTENANCE_SESSIONS sessions at a time', async () => {
    const names = ['Queue One Farm', 'Queue Two Farm', 'Queue Three Farm'];
    const sessions = t.config.DB_MAINTENANCE_SESSIONS;
    expect(names.length).toBeGreaterThan(sessions);
    // A spare refill after the earlier sign-ups would hold a session.
    await t.app.get(TenantSparePool).settled();
    const keys = ['queue-one-farm', 'queue-two-farm', 'queue-three-farm'].map((id) =>
      lockKey(`database:${t.prefix}${id}`),
    );
    const { waiters, statuses } = await lockWaitersAndStatuses(keys, sessions, () =>
      names.map((name) => t.http.post('/organizations').send({ name, farmType: 'dairy' })),
    );
    // Each session's sign-up waited on the server for a lock held there; the other one waited for a session.
    expect(waiters).toBe(sessions);
    expect(statuses).toEqual(names.map(() => 201));
  });

  it('settles two concurrent sign-ups of one name as one 201, one 409 and one database', async () => {
    const before = await databasesOfThisApp();
    const send = () => t.http.post('/organizations').send({ name: 'Race Farm', farmType: 'mixed' });
    const statuses = (await Promise.all([send(), send()])).map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409]);
    expect(await databasesOfThisApp()).toBe(before + 1);
    const rows = await sqlIn(
      t.config.DB_NAME,
      "SELECT status FROM organizations WHERE tenant_id = 'race-farm'",
    );
    expect(rows).toEqual([{ status: 'active' }]);
  });

  it('leaves a failed sign-up as failed with lastError, and the same POST repeated completes it', async () => {
    // A database in the way whose crops table makes the first migration fail.
    const database = `${t.prefix}broken-barn`;
    await withMaintenanceClient((c) => c.query(`CREATE DATABASE "${database}"`));
    await sqlIn(database, 'CREATE TABLE crops (id int)');

    const owner = { firstName: 'Bea', lastName: 'Barn', email: 'bea@barn.example', password: OWNER_PASSWORD };
    const failed = await t.http
      .post('/organizations')
      .send({ name: 'Broken Barn', farmType: 'dairy', owner })
      .expect(503);
    expect(failed.body).toMatchObject({ statusCode: 503, code: 'PROVISIONING_FAILED' });
    expect(JSON.stringify(failed.body)).not.toMatch(/relation|already exists|crops/);
    const [row] = await sqlIn<{ status: string; last_error: string; pending_owner: Record<string, string> }>(
      t.config.DB_NAME,
      "SELECT status, last_error, pending_owner FROM organizations WHERE tenant_id = 'broken-barn'",
    );
    expect(row.status).toBe('failed');
    // What failed and PostgreSQL's message, never the statement.
    expect(row.last_error).toMatch(
      /^Migration \w+ \(up\) failed: database error 42P07: relation "crops" already exists$/,
    );
    // The owner waits in the control plane, hashed, for the retry.
    expect(row.pending_owner).toEqual({
      firstName: 'Bea',
      lastName: 'Barn',
      email: 'bea@barn.example',
      passwordHash: expect.stringMatching(/^\$argon2id\$/),
    });
    await t.http.get('/api/crops').set('X-Tenant-ID', 'broken-barn').expect(503);

    await sqlIn(database, 'DROP TABLE crops');
    const retried = await t.http
      .post('/organizations')
      .send({ name: 'Broken Barn', farmType: 'orchard', owner })
      .expect(201);
    expect(retried.body).toMatchObject({ tenantId: 'broken-barn', status: 'active', farmType: 'orchard' });
    const token = await logIn(t.anon, 'broken-barn', owner.email, OWNER_PASSWORD);
    const users = await asTenant(t, 'broken-barn', token).get('/api/users').expect(200);
    expect(users.body).toEqual([expect.objectContaining({ email: 'bea@barn.example', role: 'admin' })]);
    const rows = await sqlIn(
      t.config.DB_NAME,
      "SELECT status, last_error, pending_owner FROM organizations WHERE tenant_id = 'broken-barn'",
    );
    expect(rows).toEqual([{ status: 'active', last_error: null, pending_owner: null }]);
  });

  it("refuses a sign-up whose database name holds another deployment's tenant (409), keeping nothing", async () => {
    // A tenant database this control plane does not know: another deployment's on the server, say.
    const strayDatabase = async (tenantId: string) => {
      const database = `${t.prefix}${tenantId}`;
      await withMaintenanceClient((c) => c.query(`CREATE DATABASE "${database}"`));
      await sqlIn(
        database,
        `CREATE TABLE mikro_orm_migrations (id serial PRIMARY KEY, name varchar(255), executed_at timestamptz);
         INSERT INTO mikro_orm_migrations (name) VALUES ('${TENANT_MIGRATIONS[0].name}');
         CREATE TABLE users (email text, password_hash text);
         INSERT INTO users VALUES ('someone@stray.example', 'their hash')`,
      );
      return database;
    };
    const database = await strayDatabase('stray-farm');
    const owner = {
      firstName: 'Sly',
      lastName: 'Stray',
      email: 'someone@stray.example',
      password: OWNER_PASSWORD,
    };
    const refused = await t.http
      .post('/organizations')
      .send({ name: 'Stray Farm', farmType: 'mixed', owner });
    expect({ status: refused.status, code: refused.body.code }).toEqual({
      status: 409,
      code: 'TENANT_DATABASE_EXISTS',
    });
    expect(refused.body.message).toMatch(/^The tenant id stray-farm is taken by a database on the server/);
    expect(
      await sqlIn(t.config.DB_NAME, "SELECT 1 FROM organizations WHERE tenant_id = 'stray-farm'"),
    ).toEqual([]);
    expect(await sqlIn(database, 'SELECT email, password_hash FROM users')).toEqual([
      { email: 'someone@stray.example', password_hash: 'their hash' },
    ]);
    await t.http.get('/organizations/stray-farm').expect(404);
    // A retry of a failed sign-up that never owned its database name (it failed before it looked) is refused alike,
    // here by a tenant database of the other deployment's that holds no data yet (a clone of the template).
    const other = `${t.prefix}stray-retry`;
    await cloneTemplate(t, other);
    await leaveSignUp(t, 'Stray Retry', '1 hour', null, 'failed');
    const retried = await t.http.post('/organizations').send({ name: 'Stray Retry', farmType: 'mixed' });
    expect({ status: retried.status, code: retried.body.code }).toEqual({
      status: 409,
      code: 'TENANT_DATABASE_EXISTS',
    });
    expect(
      await sqlIn(t.config.DB_NAME, "SELECT 1 FROM organizations WHERE tenant_id = 'stray-retry'"),
    ).toEqual([]);
    expect(await sqlIn(other, 'SELECT count(*)::int AS n FROM mikro_orm_migrations')).toEqual([
      { n: TENANT_MIGRATIONS.length },
    ]);
    // Once the operator has dropped it, the name signs up.
    await withMaintenanceClient((c) => c.query(`DROP DATABASE "${database}"`));
    await t.http.post('/organizations').send({ name: 'Stray Farm', farmType: 'mixed', owner }).expect(201);
  });

  it('adopts its own database on a retry, owner and data included, once a sign-up has owned its name', async () => {
    const { token } = await t.signUp('Owned Farm');
    await asTenant(t, 'owned-farm', token).post('/api/crops', { name: 'Kept', plantingDate: '2025-05-01' });
    await sqlIn(
      t.config.DB_NAME,
      "UPDATE organizations SET status = 'failed' WHERE tenant_id = 'owned-farm'",
    );
    await t.http.post('/organizations').send({ name: 'Owned Farm', farmType: 'mixed' }).expect(201);
    const crops = await asTenant(t, 'owned-farm', token).get('/api/crops').expect(200);
    expect(crops.body).toEqual([expect.objectContaining({ name: 'Kept' })]);
  });

  it('finishes a sign-up that a process of a release from before database_owned left, during a rolling upgrade', async () => {
    // That release's insert does not name the column; its sign-up had cloned the database when it failed.
    await sqlIn(
      t.config.DB_NAME,
      `INSERT INTO organizations (id, name, tenant_id, farm_type, status, database_name, updated_at)
       VALUES (gen_random_uuid(), 'Older Release', 'older-release', 'mixed', 'failed', $1, now() - interval '1 hour')`,
      [`${t.prefix}older-release`],
    );
    await cloneTemplate(t, `${t.prefix}older-release`);
    const res = await t.http.post('/organizations').send({ name: 'Older Release', farmType: 'mixed' });
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 201, code: undefined });
    await t.http.get('/api/crops').set('X-Tenant-ID', 'older-release').expect(200);
  });

  it("reads whether it owns its name under the name's lock: another attempt may have made the database", async () => {
    await leaveSignUp(t, 'Overlap Farm', '1 hour', null, 'failed');
    const key = lockKey(`database:${t.prefix}overlap-farm`);
    const { response } = await duringSignUp(t, { name: 'Overlap Farm', farmType: 'mixed' }, async () => {
      // While the retry waits for the lock, another attempt of the same sign-up owns the name and makes the database.
      await withMaintenanceClient((observer) => settledLockWaiters(observer, [key], 1));
      await sqlIn(
        t.config.DB_NAME,
        "UPDATE organizations SET database_owned = true WHERE tenant_id = 'overlap-farm'",
      );
      await cloneTemplate(t, `${t.prefix}overlap-farm`);
    });
    expect(response.status).toBe(201);
    await t.http.get('/api/crops').set('X-Tenant-ID', 'overlap-farm').expect(200);
  });

  it('provisions the database its row names, whatever TENANT_DB_PREFIX says now', async () => {
    // A failed sign-up of a process whose prefix was another.
    const database = `${t.prefix}elsewhere-named`;
    await leaveSignUp(t, 'Renamed Farm', '1 hour', null, 'failed', database);
    const res = await t.http
      .post('/organizations')
      .send({ name: 'Renamed Farm', farmType: 'mixed' })
      .expect(201);
    expect(res.body.status).toBe('active');
    await t.http.get('/api/crops').set('X-Tenant-ID', 'renamed-farm').expect(200);
    const names = await sqlIn<{ datname: string }>(
      'postgres',
      'SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY datname',
      [[database, `${t.prefix}renamed-farm`]],
    );
    expect(names).toEqual([{ datname: database }]);
  });

  it('finishes, after a restart, a sign-up its dead process left in provisioning', async () => {
    // Untouched for an hour: no process holds it (SIGNUP_RESUME_AFTER_MS is 2 minutes).
    await leaveSignUp(t, 'Half Done', '1 hour', {
      firstName: 'Hal',
      lastName: 'Done',
      email: 'hal@half.example',
      passwordHash: await new PasswordHasher().hash(OWNER_PASSWORD),
    });
    await t.http.get('/api/crops').set('X-Tenant-ID', 'half-done').expect(503);
    // A sign-up another process is running right now (its hold renewed just now): not the restart's to finish.
    await leaveSignUp(t, 'In Flight', '0 seconds');
    await stopTestApp(t);
    t = await startTestApp({ prefix: t.prefix });
    const res = await t.http.get('/organizations/half-done').expect(200);
    expect(res.body.status).toBe('active');
    await t.http.get('/api/crops').set('X-Tenant-ID', 'half-done').expect(200);
    expect((await t.http.get('/organizations/in-flight').expect(200)).body.status).toBe('provisioning');
    const early = await t.http
      .post('/organizations')
      .send({ name: 'In Flight', farmType: 'dairy' })
      .expect(409);
    expect(early.body).toMatchObject({
      code: 'SIGNUP_IN_PROGRESS',
      message: expect.stringMatching(/in progress/),
    });
    const token = await logIn(t.anon, 'half-done', 'hal@half.example', OWNER_PASSWORD);
    await asTenant(t, 'half-done', token).get('/api/auth/me').expect(200);
  });

  it('finishes, without a restart, a sign-up untouched for SIGNUP_RESUME_AFTER_MS, not earlier', async () => {
    const running = await startTestApp({ env: { SIGNUP_RESUME_AFTER_MS: '3000' } });
    try {
      // Left by a process that died an hour ago, after this app started (so not its start-up's to finish).
      await leaveSignUp(running, 'Orphaned Farm', '1 hour', {
        firstName: 'Ora',
        lastName: 'Fan',
        email: 'ora@orphaned.example',
        passwordHash: await new PasswordHasher().hash(OWNER_PASSWORD),
      });
      await activeWithin(running, 'orphaned-farm');
      const token = await logIn(running.anon, 'orphaned-farm', 'ora@orphaned.example', OWNER_PASSWORD);
      await asTenant(running, 'orphaned-farm', token).get('/api/auth/me').expect(200);
      // Touched just now: another process may still be running it, so it is left alone for 3 s.
      const touched = Date.now();
      await leaveSignUp(running, 'Fresh Farm', '0 seconds');
      expect(await activeWithin(running, 'fresh-farm', touched)).toBeGreaterThanOrEqual(3000);
    } finally {
      await stopTestApp(running);
    }
  });

  it('has one of two processes that found an abandoned sign-up at once take it over', async () => {
    const env = { SIGNUP_RESUME_AFTER_MS: '3000' };
    const first = await startTestApp({ env });
    const second = await startTestApp({ env, prefix: first.prefix });
    const rowLocker = await connectTo(first.config.DB_NAME);
    try {
      const key = lockKey(`database:${first.prefix}shared-farm`);
      const waiters = await withMaintenanceClient(async (holder) => {
        // Whoever takes the row over provisions it, and waits here for its database's lock.
        await advisoryLock(holder, key);
        await leaveSignUp(first, 'Shared Farm', '0 seconds');
        // Row-locked before it turns abandoned (3 s): both processes' sweeps (every 750 ms) find it, and their
        // takeovers wait for the row until the commit.
        await rowLocker.query('BEGIN');
        await rowLocker.query("SELECT 1 FROM organizations WHERE tenant_id = 'shared-farm' FOR UPDATE");
        const rowWaiters = () => lockWaitersIn(first.config.DB_NAME);
        await until(async () => (await rowWaiters()) === 2, 15_000);
        expect(await rowWaiters()).toBe(2);
        await rowLocker.query('COMMIT');
        return settledLockWaiters(holder, [key], 2);
      });
      expect(waiters).toBe(1);
      await activeWithin(second, 'shared-farm');
      expect((await first.http.get('/organizations/shared-farm').expect(200)).body.status).toBe('active');
    } finally {
      await rowLocker.end();
      await stopTestApp(second);
      await stopTestApp(first);
    }
  });

  it('answers 503 SIGNUP_TAKEN_OVER to an attempt that lost its hold, and the sweep finishes the sign-up', async () => {
    const app = await startTestApp({ env: { SIGNUP_RESUME_AFTER_MS: '3000' } });
    try {
      const owner = {
        firstName: 'Tia',
        lastName: 'Ken',
        email: 'tia@taken.example',
        password: OWNER_PASSWORD,
      };
      const { response } = await duringSignUp(
        app,
        { name: 'Taken Farm', farmType: 'dairy', owner },
        async () => {
          // As if another process had taken the row over while the sign-up waits for its database's lock.
          await firstRow(
            app.config.DB_NAME,
            `UPDATE organizations SET updated_at = now() + interval '1 millisecond'
              WHERE tenant_id = 'taken-farm' RETURNING 1`,
          );
          await new Promise((r) => setTimeout(r, 1500));
        },
      );
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ code: 'SIGNUP_TAKEN_OVER' });
      expect((await app.http.get('/organizations/taken-farm').expect(200)).body.status).toBe('provisioning');
      // Nobody renews it: the sweep takes it over once it has been untouched for 3 s, and saves the owner.
      await activeWithin(app, 'taken-farm');
      const token = await logIn(app.anon, 'taken-farm', owner.email, OWNER_PASSWORD);
      await asTenant(app, 'taken-farm', token).get('/api/auth/me').expect(200);
    } finally {
      await stopTestApp(app);
    }
  });

  it("starts a sign-up's hold on the database server's clock, whatever its app host's clock says", async () => {
    // A retry takes a failed sign-up over: its hold starts like a new sign-up's.
    await leaveSignUp(t, 'Skewed Retry', '1 minute', null, 'failed');
    for (const [name, tenantId] of [
      ['Skewed Farm', 'skewed-farm'],
      ['Skewed Retry', 'skewed-retry'],
    ]) {
      const { seen, response } = await withHostClockBehind(() =>
        duringSignUp(t, { name, farmType: 'dairy' }, () =>
          firstRow<{ heldForS: string }>(
            t.config.DB_NAME,
            `SELECT extract(epoch FROM now() - updated_at) AS "heldForS" FROM organizations
              WHERE tenant_id = '${tenantId}' AND status = 'provisioning'`,
          ),
        ),
      );
      // An hour old by the host's clock: another process's sweep would take it over at once.
      expect(Math.abs(Number(seen.heldForS))).toBeLessThan(60);
      expect(response.status).toBe(201);
    }
  });

  it("finds abandoned sign-ups by the database server's clock, whatever its app host's clock says", async () => {
    const app = await startTestApp({ env: { SIGNUP_RESUME_AFTER_MS: '3000' } });
    try {
      await withHostClockBehind(async () => {
        await leaveSignUp(app, 'Lapsed Farm', '10 seconds');
        await activeWithin(app, 'lapsed-farm');
      });
    } finally {
      await stopTestApp(app);
    }
  });

  it('lets a sign-up slower than SIGNUP_RESUME_AFTER_MS finish alone: its process renews its hold', async () => {
    const slow = await startTestApp({ env: { SIGNUP_RESUME_AFTER_MS: '3000' } });
    try {
      // The sign-up waits ~5.5 s for its database's lock; a sweep taking it over (after 3-4 s) would be a second
      // waiter.
      const { waiters, statuses } = await lockWaitersAndStatuses(
        [lockKey(`database:${slow.prefix}slow-farm`)],
        2,
        () => [slow.http.post('/organizations').send({ name: 'Slow Farm', farmType: 'dairy' })],
      );
      expect(waiters).toBe(1);
      expect(statuses).toEqual([201]);
      expect((await slow.http.get('/organizations/slow-farm').expect(200)).body.status).toBe('active');
    } finally {
      await stopTestApp(slow);
    }
  });
});
