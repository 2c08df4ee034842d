import { describe, expect, it } from 'vitest';
import { OneAtATime } from './one-at-a-time.js';

describe('OneAtATime', () => {
  it('runs tasks in arrival order, one at a time, and skips one given up while it waited', async () => {
    const queue = new OneAtATime();
    const order: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const first = queue.run(
      () =>
        new Promise<string>((resolve) => {
          order.push('first started');
          releaseFirst = () => resolve('first');
        }),
    );
    const gaveUp = new AbortController();
    const skipped = queue.run(async () => {
      order.push('skipped ran');
      return 'skipped';
    }, gaveUp.signal);
    const third = queue.run(async () => {
      order.push('third ran');
      return 'third';
    });
    await Promise.resolve();
    gaveUp.abort();
    releaseFirst();
    expect(await first).toBe('first');
    await expect(skipped).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await third).toBe('third');
    expect(order).toEqual(['first started', 'third ran']);
  });
});
