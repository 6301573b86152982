import { isStale, nextFailedOpening } from './tenant-connection-registry';

describe('nextFailedOpening', () => {
  it('refuses 1 s after a first failure, doubling per failure in a row up to 30 s', () => {
    let failed = nextFailedOpening(undefined, 0);
    const waits = [failed.retryMs];
    for (let i = 0; i < 6; i++) {
      failed = nextFailedOpening(failed, failed.retryAt);
      waits.push(failed.retryMs);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it('starts over once the refusals ended 30 s ago or more', () => {
    const third = nextFailedOpening(nextFailedOpening(nextFailedOpening(undefined, 0), 1_000), 3_000);
    expect(third).toEqual({ failures: 3, retryMs: 4_000, retryAt: 7_000 });
    expect(isStale(third, 36_999)).toBe(false);
    expect(nextFailedOpening(third, 36_999)).toMatchObject({ failures: 4, retryMs: 8_000 });
    expect(isStale(third, 37_000)).toBe(true);
    expect(nextFailedOpening(third, 37_000)).toEqual({ failures: 1, retryMs: 1_000, retryAt: 38_000 });
  });
});
