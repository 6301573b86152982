import { Semaphore, SemaphoreTimeoutError } from './semaphore';

describe('Semaphore', () => {
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it('runs at most its permits at once, the waiters in arrival order, and frees a permit on failure', async () => {
    const semaphore = new Semaphore(2);
    const finish: Array<() => void> = [];
    const started: number[] = [];
    const runs = [0, 1, 2, 3].map((n) =>
      semaphore.use(async () => {
        started.push(n);
        await new Promise<void>((resolve) => finish.push(resolve));
        if (n === 0) throw new Error('first failed');
        return n;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    finish[0]();
    await expect(runs[0]).rejects.toThrow('first failed');
    await tick();
    expect(started).toEqual([0, 1, 2]);
    finish[1]();
    finish[2]();
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    finish[3]();
    expect(await Promise.all(runs.slice(1))).toEqual([1, 2, 3]);
    expect(await semaphore.use(() => Promise.resolve('free again'))).toBe('free again');
  });

  it('gives up after the wait it was given, leaving the queue to the waiters behind', async () => {
    const semaphore = new Semaphore(1);
    let release!: () => void;
    const holder = semaphore.use(() => new Promise<void>((resolve) => (release = resolve)));
    const impatient = semaphore.use(() => Promise.resolve('impatient'), 50);
    const patient = semaphore.use(() => Promise.resolve('patient'));
    await expect(impatient).rejects.toThrow(SemaphoreTimeoutError);
    release();
    await holder;
    expect(await patient).toBe('patient');
    expect(await semaphore.use(() => Promise.resolve('free again'), 0)).toBe('free again');
  });
});
