import { FilterQuery, wrap } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { findPage } from '../src/common/find-page';
import { NEWEST_FIRST } from '../src/common/queries';
import { Crop } from '../src/crops/crop.entity';
import { migrateToLatest } from '../src/database/migrate-to-latest';
import { Harvest } from '../src/harvests/harvest.entity';
import { TenantOrm, TenantOrmFactory } from '../src/tenancy/tenant-orm.factory';
import { User } from '../src/users/user.entity';
import { newPrefix } from './support/test-app';
import { testServer } from './support/test-database';

/** findPage against em.findAndCount on a real tenant database: same pages and totals, fewer statements. */
describe('findPage', () => {
  const prefix = newPrefix();
  const server = testServer();
  const factory = new TenantOrmFactory(server, {
    TENANT_POOL_MAX: 1,
    TENANT_POOL_IDLE_MS: 1000,
    DB_STATEMENT_TIMEOUT_MS: 0,
    DB_MIGRATION_LOCK_TIMEOUT_MS: 0,
  });
  let orm: TenantOrm;
  let tomatoId: string;

  const fork = (): EntityManager => orm.em.fork();
  /** Counts the statements an EntityManager sends (every query goes through its connection's execute). */
  const statements = (em: EntityManager) => jest.spyOn(em.getConnection(), 'execute');
  const contents = (entities: object[]) => entities.map((entity) => wrap(entity).toObject());

  beforeAll(async () => {
    await server.ensureDatabase(`${prefix}pages`);
    orm = factory.create(`${prefix}pages`, 'tenant:pages');
    await migrateToLatest(orm, (work) => server.withAdminClient(work));
    const em = fork();
    const start = Date.parse('2025-03-01T00:00:00Z');
    const crops = Array.from({ length: 25 }, (_, i) =>
      em.create(Crop, {
        name: i % 5 === 0 ? `Tomato ${i}` : `Crop ${i}`,
        plantingDate: `2025-04-${String(i + 1).padStart(2, '0')}`,
        variety: i % 2 === 0 ? 'Heirloom' : null,
        createdAt: new Date(start + i * 1000),
      }),
    );
    tomatoId = crops[5].id;
    for (const [i, quantity] of [1.5, 2.25, 10.125, 7].entries()) {
      em.create(Harvest, {
        crop: i < 3 ? crops[5] : crops[6],
        quantity,
        unit: 'kg',
        harvestedAt: `2025-07-0${i + 1}`,
        createdAt: new Date(start + i * 1000),
      });
    }
    for (const [i, name] of ['Ann', 'Ben'].entries()) {
      em.create(User, {
        createdAt: new Date(start + i * 1000),
        firstName: name,
        lastName: 'Farmer',
        email: `${name.toLowerCase()}@pages.example`,
        passwordHash: `hash of ${name}`,
      });
    }
    await em.flush();
  });

  afterAll(async () => {
    await orm.close(true);
    await server.stop();
  });

  const cropCases: Array<[string, FilterQuery<Crop>, number, number]> = [
    ['the first page', {}, 10, 0],
    ['a middle page', {}, 10, 10],
    ['the last, partial page', {}, 10, 20],
    ['a filtered page', { name: { $ilike: '%tomato%' } }, 2, 1],
    [
      'a filter on a nullable column and dates',
      { variety: null, plantingDate: { $gte: '2025-04-10' } },
      50,
      0,
    ],
    ['a filter that matches nothing', { name: 'No such crop' }, 10, 0],
    ['an offset past the end', {}, 10, 100],
  ];

  it.each(cropCases)('returns what findAndCount returns for %s', async (_case, where, limit, offset) => {
    const options = { orderBy: NEWEST_FIRST, limit, offset };
    const [expected, expectedTotal] = await fork().findAndCount(Crop, where, options);
    const [page, total] = await findPage(fork(), Crop, where, options);
    expect(total).toBe(expectedTotal);
    expect(contents(page)).toEqual(contents(expected));
    expect(page.every((crop) => crop instanceof Crop)).toBe(true);
  });

  it('maps relations as references and decimals as numbers, as findAndCount does', async () => {
    const options = { orderBy: NEWEST_FIRST, limit: 2, offset: 0 };
    const [expected, expectedTotal] = await fork().findAndCount(Harvest, { crop: tomatoId }, options);
    const [page, total] = await findPage(fork(), Harvest, { crop: tomatoId }, options);
    expect([total, expectedTotal]).toEqual([3, 3]);
    expect(contents(page)).toEqual(contents(expected));
    expect(page.map((h) => [h.quantity, h.crop.id, wrap(h.crop).isInitialized()])).toEqual([
      [10.125, tomatoId, false],
      [2.25, tomatoId, false],
    ]);
  });

  it("leaves lazy columns unread, as findAndCount does: a user's password hash", async () => {
    const options = { orderBy: NEWEST_FIRST, limit: 10, offset: 0 };
    const [expected] = await fork().findAndCount(User, {}, options);
    const [page, total] = await findPage(fork(), User, {}, options);
    expect(total).toBe(2);
    expect(contents(page)).toEqual(contents(expected));
    expect(page.map((user) => [user.firstName, user.passwordHash])).toEqual([
      ['Ben', undefined],
      ['Ann', undefined],
    ]);
  });

  it('sends one statement where findAndCount sends two, and a second only for a page past the end', async () => {
    const options = { orderBy: NEWEST_FIRST, limit: 5, offset: 0 };
    const sent = async (find: (em: EntityManager) => Promise<unknown>) => {
      const em = fork();
      const spy = statements(em);
      try {
        await find(em);
        return spy.mock.calls.length;
      } finally {
        spy.mockRestore();
      }
    };
    expect(await sent((em) => em.findAndCount(Crop, {}, options))).toBe(2);
    expect(await sent((em) => findPage(em, Crop, {}, options))).toBe(1);
    expect(await sent((em) => findPage(em, Crop, { name: 'No such crop' }, options))).toBe(1);
    expect(await sent((em) => findPage(em, Crop, {}, { ...options, offset: 100 }))).toBe(2);
  });

  it('returns managed entities: the identity map has them, unchanged they flush nothing, changed they update', async () => {
    const em = fork();
    const [crops] = await findPage(em, Crop, {}, { orderBy: NEWEST_FIRST, limit: 3, offset: 0 });
    const [harvests] = await findPage(em, Harvest, {}, { orderBy: NEWEST_FIRST, limit: 3, offset: 0 });
    const spy = statements(em);
    try {
      expect(await em.findOne(Crop, crops[0].id)).toBe(crops[0]);
      await em.flush();
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    crops[0].name = 'Renamed';
    harvests[0].quantity = 3.5;
    await em.flush();
    const reread = fork();
    expect((await reread.findOneOrFail(Crop, crops[0].id)).name).toBe('Renamed');
    expect((await reread.findOneOrFail(Harvest, harvests[0].id)).quantity).toBe(3.5);
  });
});
