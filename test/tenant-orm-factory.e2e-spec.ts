import { RequestContext } from '@mikro-orm/core';
import { Crop } from '../src/crops/crop.entity';
import { migrateToLatest } from '../src/database/migrate-to-latest';
import { TenantOrmFactory } from '../src/tenancy/tenant-orm.factory';
import { newPrefix } from './support/test-app';
import { testServer } from './support/test-database';

/** Covers the one place that reaches into MikroORM internals: ORMs built on shared, once-discovered metadata. */
describe('TenantOrmFactory', () => {
  const prefix = newPrefix();
  const server = testServer();
  const factory = new TenantOrmFactory(server, {
    TENANT_POOL_MAX: 1,
    TENANT_POOL_IDLE_MS: 1000,
    DB_STATEMENT_TIMEOUT_MS: 0,
    DB_MIGRATION_LOCK_TIMEOUT_MS: 0,
  });

  afterAll(() => server.stop());

  beforeAll(async () => {
    for (const name of ['a', 'b']) {
      await server.ensureDatabase(`${prefix}${name}`);
      const orm = factory.create(`${prefix}${name}`, `tenant:setup-${name}`);
      await migrateToLatest(orm, (work) => server.withAdminClient(work));
      await orm.close(true);
    }
  });

  it('builds working ORMs that share one metadata storage but not their database or context', async () => {
    const a = factory.create(`${prefix}a`, 'tenant:a');
    const b = factory.create(`${prefix}b`, 'tenant:b');
    try {
      expect(a.getMetadata()).toBe(b.getMetadata());
      expect(a.getMetadata().get('Crop').tableName).toBe('crops');
      expect(a.em.name).toBe('tenant:a');
      expect(b.em.name).toBe('tenant:b');

      await RequestContext.create(a.em, async () => {
        a.em.create(Crop, { name: 'Only in A', plantingDate: '2025-04-01' });
        await a.em.flush();
      });
      const inA = await RequestContext.create(a.em, () => a.em.find(Crop, {}));
      const inB = await RequestContext.create(b.em, () => b.em.find(Crop, {}));
      expect(inA.map((c) => [c.name, c.plantingDate])).toEqual([['Only in A', '2025-04-01']]);
      expect(inA[0]).toBeInstanceOf(Crop);
      expect(inB).toEqual([]);
    } finally {
      await a.close(true);
      await b.close(true);
    }
  });

  it('shares the generated hydrator and comparators, and change tracking still works per ORM', async () => {
    const a = factory.create(`${prefix}a`, 'tenant:a');
    const b = factory.create(`${prefix}b`, 'tenant:b');
    try {
      expect(a.config.getHydrator(a.getMetadata())).toBe(b.config.getHydrator(b.getMetadata()));
      expect(a.config.getComparator(a.getMetadata())).toBe(b.config.getComparator(b.getMetadata()));
      await RequestContext.create(b.em, async () => {
        b.em.create(Crop, { name: 'Only in B', plantingDate: '2025-05-01' });
        await b.em.flush();
      });
      await RequestContext.create(b.em, async () => {
        const [crop] = await b.em.find(Crop, {});
        crop.name = 'Renamed in B';
        await b.em.flush();
      });
      const inB = await RequestContext.create(b.em, () => b.em.find(Crop, {}));
      const inA = await RequestContext.create(a.em, () => a.em.find(Crop, { name: 'Renamed in B' }));
      expect(inB.map((c) => [c.name, c.plantingDate])).toEqual([['Renamed in B', '2025-05-01']]);
      expect(inA).toEqual([]);
    } finally {
      await a.close(true);
      await b.close(true);
    }
  });

  it('leaves the entity prototypes as the factory decorated them when it builds a tenant ORM', async () => {
    const decorated = () => Object.getOwnPropertyDescriptor(Crop.prototype, '__factory')?.value as unknown;
    const before = decorated();
    expect(before).toBeDefined();
    const orm = factory.create(`${prefix}a`, 'tenant:a');
    try {
      expect(decorated()).toBe(before);
      expect(orm.em.fork().getEntityFactory()).not.toBe(before);
    } finally {
      await orm.close(true);
    }
  });

  it('refuses global EntityManager use outside a request context', async () => {
    const orm = factory.create(`${prefix}a`, 'tenant:a');
    try {
      await expect(orm.em.find(Crop, {})).rejects.toThrow(/global EntityManager/);
    } finally {
      await orm.close(true);
    }
  });
});
