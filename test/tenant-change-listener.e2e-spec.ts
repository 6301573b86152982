import { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from 'pg';
import {
  TenantChangeListener,
  TENANT_CHANGED_CHANNEL,
  TENANT_CHANGES_APPLICATION_NAME,
} from '../src/tenancy/tenant-change-listener';
import { TenantRegistry } from '../src/tenancy/tenant-registry';
import { sqlIn, startTestApp, stopTestApp, TestApp } from './support/test-app';
import { SilentProxy } from './support/silent-proxy';
import { connectTo } from './support/test-database';
import { failAfter, until } from './support/until';

/** Registry answers that would outlive every test here unless a change notification drops them. */
const LONG_TTL_MS = '600000';

describe('registry answers and the control plane change notifications', () => {
  let t: TestApp;
  let control: string;

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        TENANT_CACHE_TTL_MS: LONG_TTL_MS,
        TENANT_CACHE_LISTEN_TTL_MS: LONG_TTL_MS,
        TENANT_SPARE_POOL: '0',
      },
    });
    control = t.config.DB_NAME;
    await t.signUp('Listened');
  });

  afterAll(() => stopTestApp(t));

  const status = async (tenantId: string) =>
    (await t.http.get('/api/crops').set('X-Tenant-ID', tenantId)).status;
  const setStatus = (tenantId: string, value: string) =>
    sqlIn(control, 'UPDATE organizations SET status = $1 WHERE tenant_id = $2', [value, tenantId]);
  const listeners = () =>
    sqlIn<{ pid: number }>(
      control,
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
      [TENANT_CHANGES_APPLICATION_NAME, control],
    );
  const statusSoon = async (tenantId: string, expected: number) => {
    let last = 0;
    await until(async () => (last = await status(tenantId)) === expected, 5_000);
    return last;
  };

  it('keeps unknown ids apart, at most 1,000, the least recently requested going first', async () => {
    const registry = t.app.get(TenantRegistry);
    // A notification of an id of its own, seen once it has come: the sign-up's came before it (one channel, in order).
    await registry.find('barrier');
    await sqlIn(control, 'SELECT pg_notify($1, $2)', [TENANT_CHANGED_CHANNEL, 'barrier']);
    await until(() => registry.cached('barrier') === undefined, 5_000);
    expect(registry.cached('barrier')).toBeUndefined();
    registry.invalidateAll();
    await registry.find('listened');
    const unknown = Array.from({ length: 1000 }, (_, i) => `nobody-${i}`);
    for (let i = 0; i < unknown.length; i += 50) {
      await Promise.all(unknown.slice(i, i + 50).map((id) => registry.find(id)));
    }
    expect(registry.stats().cached).toBe(1001);
    expect(registry.cached('nobody-0')).toBeNull();
    await registry.find('nobody-1000');
    expect(registry.stats().cached).toBe(1001);
    expect(registry.cached('nobody-0')).toBeNull();
    expect(registry.cached('nobody-1')).toBeUndefined();
    expect(registry.cached('listened')).toMatchObject({ tenantId: 'listened' });
    registry.invalidateAll();
  });

  it('holds one connection to the control database', async () => {
    expect(await listeners()).toHaveLength(1);
  });

  it("sees a change made outside the process as soon as it commits, though the tenant's answer is cached", async () => {
    expect(await status('listened')).toBe(200);
    expect(t.app.get(TenantRegistry).cached('listened')).toMatchObject({ status: 'active' });

    await setStatus('listened', 'failed');
    expect(await statusSoon('listened', 503)).toBe(503);
    await setStatus('listened', 'active');
    expect(await statusSoon('listened', 200)).toBe(200);
  });

  it('sees a tenant signed up elsewhere that it had looked up before', async () => {
    expect(await status('elsewhere')).toBe(404);
    expect(t.app.get(TenantRegistry).cached('elsewhere')).toBeNull();
    await sqlIn(
      control,
      `INSERT INTO organizations (id, tenant_id, name, farm_type, status, database_name)
       SELECT gen_random_uuid(), 'elsewhere', 'Elsewhere', farm_type, 'failed', $1
         FROM organizations WHERE tenant_id = 'listened'`,
      [`${t.prefix}elsewhere`],
    );
    expect(await statusSoon('elsewhere', 503)).toBe(503);
    await sqlIn(control, "DELETE FROM organizations WHERE tenant_id = 'elsewhere'");
    expect(await statusSoon('elsewhere', 404)).toBe(404);
  });

  it('does not cache an answer read before a change that committed while it was on its way', async () => {
    const registry = t.app.get(TenantRegistry);
    const connection = t.app.get(EntityManager).getConnection();
    const execute = connection.execute.bind(connection);
    let read!: () => void;
    const hasRead = new Promise<void>((resolve) => (read = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The registry's next lookup of the tenant runs its query for real, then is held before it returns.
    const held = jest
      .spyOn(connection, 'execute')
      .mockImplementation(async (...args: Parameters<typeof execute>) => {
        const isLookup =
          typeof args[0] === 'string' &&
          args[0].includes('FROM organizations WHERE tenant_id') &&
          args[1]?.[0] === 'listened';
        const result = await execute(...args);
        if (isLookup) {
          held.mockRestore();
          read();
          await released;
        }
        return result;
      });
    const invalidated = jest.spyOn(registry, 'invalidate');
    const heard = () => invalidated.mock.calls.filter(([id]) => id === 'listened').length;
    try {
      registry.invalidate('listened');
      const first = status('listened');
      await Promise.race([
        hasRead,
        first.then((code) => Promise.reject(new Error(`answered ${code} without a held lookup`))),
        failAfter(5_000, 'no lookup was held'),
      ]);
      const heardBefore = heard();
      await setStatus('listened', 'failed');
      await until(() => heard() > heardBefore, 5_000);
      expect(heard()).toBeGreaterThan(heardBefore);
      // A later request starts its own lookup rather than wait for the held one.
      expect(
        await Promise.race([
          status('listened'),
          failAfter(5_000, 'a later request waited for the held lookup'),
        ]),
      ).toBe(503);
      release();
      // The held lookup's answer goes to its own caller only: it does not replace the newer one.
      expect(await first).toBe(200);
      expect(registry.cached('listened')).toMatchObject({ status: 'failed' });
      expect(await status('listened')).toBe(503);
    } finally {
      release();
      held.mockRestore();
      invalidated.mockRestore();
      await setStatus('listened', 'active');
      await statusSoon('listened', 200);
    }
  });

  it('reconnects when its connection is lost, forgetting what it cached meanwhile', async () => {
    const registry = t.app.get(TenantRegistry);
    expect(await status('listened')).toBe(200);
    expect(registry.cached('listened')).toMatchObject({ status: 'active' });
    const [before] = await listeners();
    await sqlIn(control, 'SELECT pg_terminate_backend($1)', [before.pid]);
    // The loss noticed: what was cached is dropped.
    await until(() => registry.cached('listened') === undefined, 5_000);
    expect(registry.cached('listened')).toBeUndefined();
    // Cached while nothing is heard, and changed before the listener is back or just after.
    expect(await status('listened')).toBe(200);
    await setStatus('listened', 'failed');
    try {
      expect(await statusSoon('listened', 503)).toBe(503);
      let after: { pid: number }[] = [];
      await until(
        async () => (after = await listeners()).some((listener) => listener.pid !== before.pid),
        5_000,
      );
      expect(after.map((listener) => listener.pid)).not.toContain(before.pid);
      expect(after).toHaveLength(1);
    } finally {
      await setStatus('listened', 'active');
      // Listening again (its backend shows before its LISTEN), and the change heard.
      await until(() => registry.stats().listening, 5_000);
      await statusSoon('listened', 200);
    }
  });

  /** Runs `sql` on the control plane in a transaction under session_replication_role = replica. */
  const asReplica = async (sql: string): Promise<void> => {
    const client = await connectTo(control);
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL session_replication_role = replica');
      await client.query(sql);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  };

  it('sees a change made under session_replication_role = replica, which skips ordinary triggers', async () => {
    expect(await status('listened')).toBe(200);
    expect(t.app.get(TenantRegistry).cached('listened')).toMatchObject({ status: 'active' });
    try {
      await asReplica("UPDATE organizations SET status = 'failed' WHERE tenant_id = 'listened'");
      expect(await statusSoon('listened', 503)).toBe(503);
    } finally {
      await setStatus('listened', 'active');
      await statusSoon('listened', 200);
    }
  });

  // Last: it empties this app's control plane.
  it('forgets every answer when organizations is truncated, also under replica role', async () => {
    const registry = t.app.get(TenantRegistry);
    expect(await status('listened')).toBe(200);
    expect(await status('never-signed-up')).toBe(404);
    expect(registry.cached('listened')).toMatchObject({ status: 'active' });
    expect(registry.cached('never-signed-up')).toBeNull();
    // Under replica role, which skips ordinary triggers.
    await asReplica('TRUNCATE organizations');
    await until(() => registry.stats().cached === 0, 5_000);
    expect(registry.stats()).toEqual({ listening: true, cached: 0 });
    expect(await status('listened')).toBe(404);
  });
});

describe('the change listener through a connection that stops answering', () => {
  // Long enough that a stall of the loaded test process (the proxy runs in it) is not taken for a silent connection.
  const HEARTBEAT_MS = 1_000;
  let proxy: SilentProxy | undefined;
  let t: TestApp;

  beforeAll(async () => {
    proxy = await SilentProxy.start();
    t = await startTestApp({
      env: {
        DB_HOST: '127.0.0.1',
        DB_PORT: String(proxy.port),
        TENANT_CACHE_TTL_MS: LONG_TTL_MS,
        TENANT_CACHE_LISTEN_TTL_MS: LONG_TTL_MS,
        TENANT_CHANGES_HEARTBEAT_MS: String(HEARTBEAT_MS),
        TENANT_SPARE_POOL: '0',
      },
    });
    await t.signUp('Silenced');
  });

  afterAll(async () => {
    try {
      await stopTestApp(t);
    } finally {
      await proxy?.close();
    }
  });

  afterEach(() => jest.restoreAllMocks());

  const status = async () => (await t.http.get('/api/crops').set('X-Tenant-ID', 'silenced')).status;
  const listenersMade = () => proxy!.connectionsMade(TENANT_CHANGES_APPLICATION_NAME);
  /** Waits until the registry stops listening, then listens again; how long the first took. */
  const lostAndBack = async () => {
    const registry = t.app.get(TenantRegistry);
    const started = Date.now();
    await until(() => !registry.stats().listening, 5_000);
    expect(registry.stats().listening).toBe(false);
    const noticedAfter = Date.now() - started;
    await until(() => registry.stats().listening, 5_000);
    expect(registry.stats().listening).toBe(true);
    return noticedAfter;
  };
  /** A status set by SQL reaches the cached answer: the listening connection hears the change. */
  const hearsChanges = async () => {
    const registry = t.app.get(TenantRegistry);
    const invalidated = jest.spyOn(registry, 'invalidate');
    expect(await status()).toBe(200);
    expect(registry.cached('silenced')).toMatchObject({ status: 'active' });
    await sqlIn(t.config.DB_NAME, "UPDATE organizations SET status = 'failed' WHERE tenant_id = 'silenced'");
    try {
      await until(() => invalidated.mock.calls.some(([id]) => id === 'silenced'), 5_000);
      expect(invalidated).toHaveBeenCalledWith('silenced');
      expect(await status()).toBe(503);
    } finally {
      await sqlIn(
        t.config.DB_NAME,
        "UPDATE organizations SET status = 'active' WHERE tenant_id = 'silenced'",
      );
      await until(async () => (await status()) === 200, 5_000);
    }
  };

  it('notices within two heartbeats, forgets what it cached, and listens again on a new connection', async () => {
    const registry = t.app.get(TenantRegistry);
    // Answered heartbeats keep the connection.
    await new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_MS));
    expect(registry.stats().listening).toBe(true);
    expect(listenersMade()).toBe(1);
    expect(await status()).toBe(200);
    expect(registry.cached('silenced')).toMatchObject({ status: 'active' });

    expect(proxy!.silence(TENANT_CHANGES_APPLICATION_NAME)).toBe(1);
    expect(await lostAndBack()).toBeLessThan(2 * HEARTBEAT_MS + 1_000);
    expect(registry.cached('silenced')).toBeUndefined();
    expect(listenersMade()).toBe(2);
    expect(proxy!.connections(TENANT_CHANGES_APPLICATION_NAME)).toBe(1);
    await hearsChanges();
    expect(listenersMade()).toBe(2);
  });

  it('reconnects when its session no longer listens on the channel', async () => {
    // Its session, reached through the listener's private field.
    const listener = t.app.get<TenantChangeListener, { current: Client }>(TenantChangeListener);
    const made = listenersMade();
    await listener.current.query('UNLISTEN *');
    expect(await lostAndBack()).toBeLessThan(2 * HEARTBEAT_MS + 1_000);
    expect(listenersMade()).toBe(made + 1);
    await hearsChanges();
  });

  // Last: the listener stops.
  it('gives up a silent connection at shutdown: its socket destroyed once the close goes unanswered', async () => {
    const listener = t.app.get(TenantChangeListener);
    const { stream } = (listener as unknown as { current: Client }).current.connection;
    expect(proxy!.silence(TENANT_CHANGES_APPLICATION_NAME)).toBe(1);
    await Promise.race([listener.onApplicationShutdown(), failAfter(3_000, 'Shutdown not done within 3 s')]);
    expect(stream.destroyed).toBe(true);
  });
});
