/**
 * Waiters woken one at a time, in arrival order. A waiter that gives up leaves the queue, so it never takes the
 * wake-up meant for the next one.
 */
export class WaitQueue {
  private readonly waiters: Array<() => void> = [];

  /** Resolves true when woken, false once `ms` have passed (Infinity: no limit). */
  wait(ms = Infinity): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      if (Number.isFinite(ms)) {
        timer = setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(wake), 1);
          resolve(false);
        }, ms);
      }
      this.waiters.push(wake);
    });
  }

  /** Wakes the longest waiting one; false when nobody waits. */
  wakeOne(): boolean {
    const next = this.waiters.shift();
    next?.();
    return next !== undefined;
  }
}
