/** Thrown by `Semaphore.use` when no permit became free within the wait it was given. */
export class SemaphoreTimeoutError extends Error {}

/** A counting semaphore whose waiters are served in arrival order. */
export class Semaphore {
  private readonly waiters: Array<() => void> = [];

  constructor(private available: number) {}

  /** Runs `work` once a permit is free (waiting at most `waitMs`), and frees it when `work` settles. */
  async use<T>(work: () => Promise<T>, waitMs = Infinity): Promise<T> {
    if (this.available > 0) this.available--;
    else await this.permit(waitMs);
    try {
      return await work();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.available++;
    }
  }

  /** Resolves when a releasing `use` hands its permit over; a waiter that gave up leaves the queue. */
  private permit(waitMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      if (Number.isFinite(waitMs)) {
        timer = setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(grant), 1);
          reject(new SemaphoreTimeoutError(`No permit became free within ${waitMs} ms`));
        }, waitMs);
      }
      this.waiters.push(grant);
    });
  }
}
