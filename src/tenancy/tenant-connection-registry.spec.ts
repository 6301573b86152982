import { isServerFailure, isStale, nextFailedOpening } from './tenant-connection-registry';

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

describe('isServerFailure', () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    'ECONNREFUSED',
    'ENOENT',
    'EHOSTUNREACH',
    'EAI_AGAIN',
    '08006',
    '08P01',
    '53300',
    '57P01',
    '57P03',
  ])('holds for %s, also as the cause of a wrapping error', (code) => {
    expect(isServerFailure(coded(code))).toBe(true);
    expect(isServerFailure(new Error('Migration X (up) failed', { cause: coded(code) }))).toBe(true);
  });

  it.each(['3D000', '28P01', '42P07', '53100', '53200', '53400', '57014', '57P04', '55P03', 'ECONNREFUSEDX'])(
    'does not hold for %s, nor as a cause',
    (code) => {
      expect(isServerFailure(coded(code))).toBe(false);
      expect(isServerFailure(new Error('Migration X (up) failed', { cause: coded(code) }))).toBe(false);
    },
  );

  it("holds for knex's timeout for a connection, which has no code", () => {
    const timeout = Object.assign(new Error('Knex: Timeout acquiring a connection'), {
      name: 'KnexTimeoutError',
    });
    expect(isServerFailure(timeout)).toBe(true);
  });

  it('looks five errors deep at most', () => {
    let wrapped: Error = coded('57P03');
    for (let i = 0; i < 4; i++) wrapped = new Error(`wrapper ${i}`, { cause: wrapped });
    expect(isServerFailure(wrapped)).toBe(true);
    expect(isServerFailure(new Error('one more', { cause: wrapped }))).toBe(false);
  });

  it('does not hold for an error without a code', () => {
    expect(isServerFailure(new Error('the server refused'))).toBe(false);
    expect(isServerFailure('down')).toBe(false);
  });
});
