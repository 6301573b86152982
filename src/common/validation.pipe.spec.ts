import { BadRequestException } from '@nestjs/common';
import { IsString } from 'class-validator';
import { createValidationPipe, findRefusedInput } from './validation.pipe';

class NoteDto {
  @IsString()
  note!: string;
}

describe('findRefusedInput', () => {
  it('names the first string holding NUL or a lone surrogate, however deep', () => {
    expect(findRefusedInput({ a: 'ok', b: { c: ['fine', 'x\u0000y'] } })).toEqual({
      path: 'b.c.1',
      problem: 'must not contain NUL characters',
    });
    expect(findRefusedInput({ email: '\ud800@example.com' })).toEqual({
      path: 'email',
      problem: 'must be well-formed Unicode',
    });
    expect(findRefusedInput('x\udc00')).toEqual({ path: '', problem: 'must be well-formed Unicode' });
  });

  it('refuses values nested deeper than 32 levels instead of recursing without end', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40_000; i++) deep = [deep];
    expect(findRefusedInput({ z: deep })?.problem).toBe('is nested more than 32 levels deep');
    let fine: unknown = 'x';
    for (let i = 0; i < 30; i++) fine = [fine];
    expect(findRefusedInput({ z: fine })).toBeUndefined();
  });

  it("names a key of Object.prototype's, which class-transformer would skip, at any depth", () => {
    expect(findRefusedInput({ name: 'A', toString: 1 })).toEqual({
      path: 'toString',
      problem: 'should not exist',
    });
    expect(findRefusedInput({ owner: { valueOf: 'x' } })?.path).toBe('owner.valueOf');
    expect(findRefusedInput(JSON.parse('{"__proto__": {"role": "admin"}}'))?.path).toBe('__proto__');
  });

  it('finds nothing in clean values, surrogate pairs included', () => {
    expect(findRefusedInput({ a: 'ok 🌽', b: [1, null, true, { c: 'NUL \\u0000' }] })).toBeUndefined();
    expect(findRefusedInput(undefined)).toBeUndefined();
  });
});

describe('the validation pipe', () => {
  const pipe = createValidationPipe();

  it('answers 400 naming the field for a NUL character in a body', async () => {
    const error: unknown = await pipe
      .transform({ note: 'a\u0000b' }, { type: 'body', metatype: NoteDto })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestException);
    expect((error as BadRequestException).getResponse()).toEqual({
      message: 'note must not contain NUL characters',
      code: 'VALIDATION_FAILED',
    });
  });

  it('answers 400 for a lone surrogate in a query string', async () => {
    await expect(pipe.transform({ note: '\ud800' }, { type: 'query', metatype: NoteDto })).rejects.toThrow(
      'note must be well-formed Unicode',
    );
  });

  it('validates clean bodies as before', async () => {
    await expect(pipe.transform({ note: 'fine' }, { type: 'body', metatype: NoteDto })).resolves.toEqual({
      note: 'fine',
    });
    await expect(pipe.transform({ note: 5 }, { type: 'body', metatype: NoteDto })).rejects.toThrow(
      BadRequestException,
    );
  });
});
