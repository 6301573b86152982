import { validate } from 'class-validator';
import { codePoints, hasAtMostDecimals, PasswordField, TextField } from './fields';

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

describe('codePoints and TextField', () => {
  class NameDto {
    @TextField(4)
    name!: string;
  }
  const errors = async (name: unknown) =>
    (await validate(Object.assign(new NameDto(), { name }))).flatMap((e) =>
      Object.values(e.constraints ?? {}),
    );

  it('counts what PostgreSQL counts: code points, a variation selector as one, a surrogate pair as one', () => {
    expect(codePoints('a\ufe0f')).toBe(2);
    expect(codePoints('🌽')).toBe(1);
    expect(codePoints('e\u0301')).toBe(2);
    expect(codePoints('')).toBe(0);
  });

  it('takes up to the limit in code points, whatever their UTF-16 length', async () => {
    expect(await errors('🌽🌽🌽🌽')).toEqual([]);
    expect(await errors('a\ufe0fb\ufe0f')).toEqual([]);
    expect(await errors('a\ufe0fb\ufe0fc')).toEqual(['name must be shorter than or equal to 4 characters']);
    expect(await errors('')).toEqual(['name must be longer than or equal to 1 characters']);
    expect(await errors('\ufe0f')).toEqual([]);
  });
});

describe('PasswordField', () => {
  class PasswordDto {
    @PasswordField()
    password!: string;
  }
  const errors = async (password: unknown) =>
    (await validate(Object.assign(new PasswordDto(), { password }))).flatMap((e) =>
      Object.values(e.constraints ?? {}),
    );

  it('counts the characters of the password as it is hashed, composed (NFC)', async () => {
    expect(await errors('é'.repeat(10))).toEqual([]);
    expect(await errors('e\u0301'.repeat(10))).toEqual([]);
    expect(await errors('e\u0301'.repeat(5))).toEqual(['password must be at least 10 characters long']);
  });
});
