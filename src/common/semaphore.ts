import { WaitQueue } from './wait-queue';

/** Thrown by `Semaphore.use` when no permit became free within the wait it was given. */
export class SemaphoreTimeoutError extends Error {}

/** A counting semaphore whose waiters are served in arrival order. */
export class Semaphore {
  private readonly waiters = new WaitQueue();

  constructor(private available: number) {}

  /**
   * Runs `work` once a permit is free (waiting at most `waitMs`), and frees it when `work` settles: a releasing
   * `use` hands its permit straight to the next waiter.
   */
  async use<T>(work: () => Promise<T>, waitMs = Infinity): Promise<T> {
    if (this.available > 0) this.available--;
    else if (!(await this.waiters.wait(waitMs))) {
      throw new SemaphoreTimeoutError(`No permit became free within ${waitMs} ms`);
    }
    try {
      return await work();
    } finally {
      if (!this.waiters.wakeOne()) this.available++;
    }
  }
}
