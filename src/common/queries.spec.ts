import { InvalidInputError } from './domain-errors';
import { dateRange, definedOnly, escapeLike } from './queries';

describe('query helpers', () => {
  it('keeps only the properties that were sent', () => {
    expect(definedOnly({ a: 1, b: undefined, c: null })).toEqual({ a: 1, c: null });
  });

  it('escapes LIKE wildcards and the escape character', () => {
    expect(escapeLike('50%_off\\')).toBe('50\\%\\_off\\\\');
  });

  it('builds inclusive date ranges and rejects reversed ones', () => {
    expect(dateRange(undefined, undefined, ['from', 'to'])).toBeUndefined();
    expect(dateRange('2025-01-01', undefined, ['from', 'to'])).toEqual({ $gte: '2025-01-01' });
    expect(dateRange('2025-01-01', '2025-01-31', ['from', 'to'])).toEqual({
      $gte: '2025-01-01',
      $lte: '2025-01-31',
    });
    expect(() => dateRange('2025-02-01', '2025-01-31', ['from', 'to'])).toThrow(InvalidInputError);
    expect(() => dateRange('2025-02-01', '2025-01-31', ['from', 'to'])).toThrow('from must not be after to');
  });
});
