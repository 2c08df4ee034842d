import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { powerOfTwoChunks } from './power-of-two-chunks.js';

describe('powerOfTwoChunks', () => {
  it('splits 1,000 items into 512 + 256 + 128 + 64 + 32 + 8 under a cap of 512', () => {
    const items = Array.from({ length: 1_000 }, (_, i) => i);
    expect(powerOfTwoChunks(items, 512).map((chunk) => chunk.length)).toEqual([
      512, 256, 128, 64, 32, 8,
    ]);
  });

  it('caps chunks at the maximum', () => {
    expect(powerOfTwoChunks(Array(600).fill(0), 256).map((c) => c.length)).toEqual([
      256, 256, 64, 16, 8,
    ]);
  });

  it('returns no chunks for no items', () => {
    expect(powerOfTwoChunks([], 256)).toEqual([]);
  });

  it('keeps every item in order, in power-of-two chunks no larger than the cap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer(), { maxLength: 2_000 }),
        fc.integer({ min: 0, max: 10 }),
        (items, capExponent) => {
          const cap = 2 ** capExponent;
          const chunks = powerOfTwoChunks(items, cap);
          expect(chunks.flat()).toEqual(items);
          for (const chunk of chunks) {
            expect(chunk.length).toBeLessThanOrEqual(cap);
            expect(Number.isInteger(Math.log2(chunk.length))).toBe(true);
          }
          // Distinct shapes stay logarithmic in the cap.
          expect(new Set(chunks.map((c) => c.length)).size).toBeLessThanOrEqual(capExponent + 1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects a cap that is not a positive integer', () => {
    expect(() => powerOfTwoChunks([1], 0)).toThrow(RangeError);
    expect(() => powerOfTwoChunks([1], 1.5)).toThrow(RangeError);
  });
});
