import { asTenant, startTestApp, stopTestApp, TestApp } from './support/test-app';
import { connectTo, lockWaitersIn } from './support/test-database';
import { until } from './support/until';

describe('users', () => {
  let t: TestApp;
  const A = 'users-farm-a';
  const B = 'users-farm-b';
  const as = (tenant: string) => asTenant(t, tenant);
  const password = 'user password 1';

  beforeAll(async () => {
    t = await startTestApp();
    await t.signUp('Users Farm A');
    await t.signUp('Users Farm B');
  });

  afterAll(() => stopTestApp(t));

  it('creates, reads, updates and deletes a user', async () => {
    const created = await as(A)
      .post('/api/users', { firstName: ' Ada ', lastName: 'Lovelace', email: 'Ada@Example.com', password })
      .expect(201);
    expect(created.headers.location).toBe(`/api/users/${created.body.id}`);
    expect((await as(A).get(created.headers.location).expect(200)).body).toEqual(created.body);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'Ada@Example.com',
      role: 'member',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const id = created.body.id as string;
    expect((await as(A).get(`/api/users/${id}`).expect(200)).body).toEqual(created.body);

    const updated = await as(A).patch(`/api/users/${id}`, { lastName: 'Byron' }).expect(200);
    expect(updated.body).toMatchObject({ firstName: 'Ada', lastName: 'Byron', email: 'Ada@Example.com' });
    expect(updated.body.updatedAt > created.body.updatedAt).toBe(true);

    await as(A).delete(`/api/users/${id}`).expect(204);
    await as(A).get(`/api/users/${id}`).expect(404);
    await as(A).delete(`/api/users/${id}`).expect(404);
  });

  it('keeps emails unique per tenant ignoring case, and allows the same email in another tenant', async () => {
    await as(A)
      .post('/api/users', { firstName: 'Bo', lastName: 'Peep', email: 'bo@farm.example', password })
      .expect(201);
    const dup = await as(A)
      .post('/api/users', { firstName: 'Other', lastName: 'Bo', email: 'BO@farm.example', password })
      .expect(409);
    expect(dup.body).toMatchObject({ statusCode: 409, error: 'Conflict', code: 'USER_EMAIL_TAKEN' });
    await as(B)
      .post('/api/users', { firstName: 'Bo', lastName: 'Peep', email: 'bo@farm.example', password })
      .expect(201);

    const other = await as(A).post('/api/users', {
      firstName: 'Cy',
      lastName: 'Press',
      email: 'cy@farm.example',
      password,
    });
    const clash = await as(A).patch(`/api/users/${other.body.id}`, { email: 'Bo@Farm.Example' }).expect(409);
    expect(clash.body.code).toBe('USER_EMAIL_TAKEN');
    expect((await as(A).get(`/api/users/${other.body.id}`)).body.email).toBe('cy@farm.example');
  });

  it("answers 503 TRANSACTION_CONFLICT when PostgreSQL picks the request's transaction as a deadlock's victim", async () => {
    const created = await as(A)
      .post('/api/users', { firstName: 'Dee', lastName: 'Lock', email: 'dee@lock.example', password })
      .expect(201);
    const id = created.body.id as string;
    // Another session (an operator's, say) holds the user's row and will want the lock the PATCH takes first. The
    // PATCH's backend checks for a deadlock 1 s (deadlock_timeout) after it starts waiting, the other session's
    // after 3 s, so the PATCH is rolled back; unless a stall delays the other session's request past that one
    // check, which then finds no cycle yet: the other session is rolled back instead, and the scenario repeats.
    for (let attempt = 1; ; attempt++) {
      const other = await connectTo(`${t.prefix}${A}`);
      try {
        await other.query('BEGIN');
        await other.query(`SET LOCAL deadlock_timeout = '3s'`);
        await other.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [id]);
        const patch = as(A)
          .patch(`/api/users/${id}`, { firstName: 'Changed' })
          .then((res) => res);
        const patchWaits = async () => (await lockWaitersIn(`${t.prefix}${A}`)) === 1;
        await until(patchWaits);
        expect(await patchWaits()).toBe(true);
        const closing = other.query(`SELECT pg_advisory_xact_lock(hashtext('users:admins'))`).then(
          () => 'locked',
          (error: { code?: string }) => error.code,
        );
        const res = await patch;
        const otherOutcome = await closing;
        await other.query('ROLLBACK');
        if (res.status === 200 && otherOutcome === '40P01' && attempt < 3) continue;
        expect({ status: res.status, body: res.body as unknown, otherOutcome }).toEqual({
          status: 503,
          body: {
            statusCode: 503,
            error: 'Service Unavailable',
            message:
              "The request's transaction was rolled back in a conflict with a concurrent one; retry it",
            code: 'TRANSACTION_CONFLICT',
          },
          otherOutcome: 'locked',
        });
        break;
      } finally {
        await other.end();
      }
    }
    const again = await as(A).patch(`/api/users/${id}`, { firstName: 'Changed' }).expect(200);
    expect(again.body.firstName).toBe('Changed');
  });

  it('validates bodies and ids: 400 naming the field', async () => {
    const cases: Array<[object, RegExp]> = [
      [{ firstName: 'A', lastName: 'B', password }, /email/],
      [{ firstName: 'A', lastName: 'B', email: 'a@b.co' }, /password must be a string/],
      [{ firstName: 'A', lastName: 'B', email: 'a@b.co', password: 'short' }, /password must be at least 10/],
      [{ firstName: 'A', lastName: 'B', email: 'a@b.co', password, role: 'owner' }, /role must be one of/],
      [{ firstName: '', lastName: 'B', email: 'a@b.co' }, /firstName must be longer/],
      [{ firstName: '   ', lastName: 'B', email: 'a@b.co' }, /firstName must be longer/],
      [{ firstName: 'A', lastName: 'B', email: 'not-an-email' }, /email must be an email address/],
      [{ firstName: 'A'.repeat(201), lastName: 'B', email: 'a@b.co' }, /firstName must be shorter/],
      [{ firstName: 7, lastName: 'B', email: 'a@b.co' }, /firstName must be a string/],
      [{ firstName: 'A', lastName: 'B', email: 'a@b.co', password, age: 3 }, /property age should not exist/],
      [
        { firstName: 'A\u0000B', lastName: 'B', email: 'a@b.co' },
        /firstName must not contain NUL characters/,
      ],
    ];
    for (const [body, message] of cases) {
      const res = await as(A).post('/api/users', body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.message).toMatch(message);
    }
    const { body: user } = await as(A).post('/api/users', {
      firstName: 'D',
      lastName: 'E',
      email: 'd@e.co',
      password,
    });
    expect(
      (await as(A).patch(`/api/users/${user.id}`, { firstName: null }).expect(400)).body.message,
    ).toMatch(/firstName must be a string/);
    expect((await as(A).get('/api/users/not-a-uuid').expect(400)).body).toMatchObject({ code: 'INVALID_ID' });
    await as(A).patch('/api/users/123', { firstName: 'X' }).expect(400);
    await as(A).delete('/api/users/123').expect(400);
  });

  it('pages users newest first with X-Total-Count', async () => {
    for (let i = 0; i < 3; i++) {
      await as(B).post('/api/users', {
        firstName: `P${i}`,
        lastName: 'Page',
        email: `p${i}@page.example`,
        password,
      });
      await new Promise((r) => setTimeout(r, 5));
    }
    const all = await as(B).get('/api/users?limit=200').expect(200);
    expect(all.headers['x-total-count']).toBe(String(all.body.length));
    expect(all.body.slice(0, 3).map((u: { firstName: string }) => u.firstName)).toEqual(['P2', 'P1', 'P0']);
    const page = await as(B).get('/api/users?limit=2&offset=1').expect(200);
    expect(page.body).toEqual(all.body.slice(1, 3));
    await as(B).get('/api/users?limit=201').expect(400);
  });

  it('answers 404 for a user id of another tenant, for every route', async () => {
    const { body: user } = await as(A).post('/api/users', {
      firstName: 'F',
      lastName: 'G',
      email: 'f@g.co',
      password,
    });
    await as(B).get(`/api/users/${user.id}`).expect(404);
    await as(B).patch(`/api/users/${user.id}`, { firstName: 'Hijack' }).expect(404);
    await as(B).delete(`/api/users/${user.id}`).expect(404);
    expect((await as(A).get(`/api/users/${user.id}`).expect(200)).body.firstName).toBe('F');
  });
});
