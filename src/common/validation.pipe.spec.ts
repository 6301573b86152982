import { BadRequestException } from '@nestjs/common';
import { IsString } from 'class-validator';
import { createValidationPipe, findNulCharacter } from './validation.pipe';

class NoteDto {
  @IsString()
  note!: string;
}

describe('findNulCharacter', () => {
  it('names the first string holding NUL, however deep', () => {
    expect(findNulCharacter({ a: 'ok', b: { c: ['fine', 'x\u0000y'] } })).toBe('b.c.1');
    expect(findNulCharacter('\u0000')).toBe('');
  });

  it('finds nothing in clean values', () => {
    expect(findNulCharacter({ a: 'ok', b: [1, null, true, { c: 'NUL' }] })).toBeUndefined();
    expect(findNulCharacter(undefined)).toBeUndefined();
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

  it('answers 400 for a NUL character in a query string', async () => {
    await expect(pipe.transform({ note: '\u0000' }, { type: 'query', metatype: NoteDto })).rejects.toThrow(
      'note must not contain NUL characters',
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
