import { quoteIdent } from './sql-identifiers';

describe('quoteIdent', () => {
  it('wraps a name in double quotes', () => {
    expect(quoteIdent('tenant_green-valley')).toBe('"tenant_green-valley"');
  });

  it('doubles embedded quotes so a name cannot close the identifier', () => {
    expect(quoteIdent('a"; DROP DATABASE x; --')).toBe('"a""; DROP DATABASE x; --"');
  });

  it('rejects empty, over-long and NUL-containing names', () => {
    expect(() => quoteIdent('')).toThrow();
    expect(() => quoteIdent('x'.repeat(64))).toThrow();
    expect(() => quoteIdent('a\0b')).toThrow();
  });
});
