import { withDeferredSignalListeners } from './embedded-postgres';

describe('withDeferredSignalListeners', () => {
  it('keeps a listener the load added for a signal nothing else listens for, and skips it otherwise', async () => {
    const packageHook = jest.fn();
    await withDeferredSignalListeners(() => {
      process.once('SIGHUP', packageHook);
      return Promise.resolve();
    });
    // During the start, before the app's own listener: the package's hook still runs (once).
    process.emit('SIGHUP', 'SIGHUP');
    expect(packageHook).toHaveBeenCalledTimes(1);

    const laterHook = jest.fn();
    await withDeferredSignalListeners(() => {
      process.once('SIGHUP', laterHook);
      return Promise.resolve();
    });
    // Once the app listens (Nest's shutdown hooks), the app's shutdown is the one that runs.
    const app = jest.fn();
    process.once('SIGHUP', app);
    process.emit('SIGHUP', 'SIGHUP');
    expect(app).toHaveBeenCalledTimes(1);
    expect(laterHook).not.toHaveBeenCalled();
    expect(process.listenerCount('SIGHUP')).toBe(0);
  });
});
