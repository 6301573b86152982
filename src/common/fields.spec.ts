import { hasAtMostDecimals } from './fields';

describe('hasAtMostDecimals', () => {
  it.each([1, 12.5, 12.345, 999999999.999, 0.001])('accepts %p with 3 decimals', (value) => {
    expect(hasAtMostDecimals(value, 3)).toBe(true);
  });

  it.each([1.2345, 1e-7, 5e-324, 0.1 + 0.2, Number.NaN, Number.POSITIVE_INFINITY, '1.5', null])(
    'rejects %p with 3 decimals',
    (value) => {
      expect(hasAtMostDecimals(value, 3)).toBe(false);
    },
  );
});
