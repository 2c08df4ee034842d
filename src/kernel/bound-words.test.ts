import { describe, expect, it } from 'vitest';
import { boundWords, isSafeIntegerBound } from './bound-words.js';

describe('boundWords', () => {
  it('puts a bound of zod in words, with the value when it is a plain number', () => {
    const big = { code: 'too_big', message: 'Too big: expected number to be <=10' };
    expect(boundWords({ ...big, origin: 'number', maximum: 10, inclusive: true }, 11)).toBe(
      'must be at most 10, got 11',
    );
    expect(boundWords({ ...big, origin: 'number', maximum: 10, inclusive: false }, 1e300)).toBe(
      'must be below 10',
    );
    expect(
      boundWords(
        {
          code: 'too_small',
          message: 'Too small: x',
          origin: 'array',
          minimum: 1,
          inclusive: true,
        },
        [],
      ),
    ).toBe('must not be empty');
    expect(
      boundWords({ ...big, origin: 'string', maximum: 64, inclusive: true }, 'x'.repeat(65)),
    ).toBe('must be at most 64 characters');
    expect(
      boundWords(
        { ...big, origin: 'number', maximum: Number.MAX_SAFE_INTEGER, inclusive: true },
        1e20,
      ),
    ).toBe('must be at most a whole number below 2^53');
    expect(
      boundWords(
        { code: 'too_small', message: 'Too small: x', minimum: Number.MIN_SAFE_INTEGER },
        -1e20,
      ),
    ).toBe('must be at least a whole number above -2^53');
  });

  it('leaves other issues, and a schema message of its own, alone', () => {
    expect(boundWords({ code: 'invalid_type', message: 'Invalid input' }, 1)).toBeNull();
    expect(
      boundWords({ code: 'too_big', message: 'at most a year', maximum: 31_536_000 }, 1e9),
    ).toBeNull();
  });

  it('tells zod whole-number check from a limit of the field', () => {
    expect(isSafeIntegerBound({ code: 'too_big', maximum: Number.MAX_SAFE_INTEGER })).toBe(true);
    expect(isSafeIntegerBound({ code: 'too_small', minimum: Number.MIN_SAFE_INTEGER })).toBe(true);
    expect(isSafeIntegerBound({ code: 'too_big', maximum: 10 })).toBe(false);
    expect(isSafeIntegerBound({ code: 'invalid_type' })).toBe(false);
  });
});
