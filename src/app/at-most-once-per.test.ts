import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { atMostOncePer } from './at-most-once-per.js';

describe('atMostOncePer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs at once, folds the calls of the gap into one at its end, then runs at once again', () => {
    let runs = 0;
    const throttled = atMostOncePer(1_000, () => {
      runs += 1;
    });
    throttled.call();
    expect(runs).toBe(1);
    for (let i = 0; i < 50; i += 1) throttled.call();
    expect(runs).toBe(1);
    vi.advanceTimersByTime(999);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    // That late run opened a gap of its own, which nothing called in.
    vi.advanceTimersByTime(1_000);
    expect(runs).toBe(2);
    throttled.call();
    expect(runs).toBe(3);
  });

  it('runs nothing more once stopped, not even what a gap owes', () => {
    let runs = 0;
    const throttled = atMostOncePer(1_000, () => {
      runs += 1;
    });
    throttled.call();
    throttled.call();
    throttled.stop();
    vi.advanceTimersByTime(5_000);
    throttled.call();
    expect(runs).toBe(1);
  });
});
