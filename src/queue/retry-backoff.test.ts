import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryBackoffMs } from './retry-backoff.js';

describe('retryBackoffMs', () => {
  const settings = { baseMs: 1_000, maxMs: 60_000 };

  it('doubles per claim used and stays within [ceiling/2, ceiling]', () => {
    expect(retryBackoffMs(1, settings, () => 0)).toBe(500);
    expect(retryBackoffMs(1, settings, () => 1)).toBe(1_000);
    expect(retryBackoffMs(2, settings, () => 1)).toBe(2_000);
    expect(retryBackoffMs(4, settings, () => 1)).toBe(8_000);
  });

  it('never exceeds the cap, for any claim count and draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 1 }), (n, r) => {
        const delay = retryBackoffMs(n, settings, () => r);
        return delay >= 0 && delay <= settings.maxMs;
      }),
    );
  });
});
