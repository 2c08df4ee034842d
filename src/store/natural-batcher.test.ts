import { describe, expect, it } from 'vitest';
import { type BatchAnswer, NaturalBatcher } from './natural-batcher.js';

/** A batcher whose batches wait until released, recording what each one carried. */
function gatedBatcher(maxBatch: number, answer: (item: number) => BatchAnswer<string>) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const batcher = new NaturalBatcher<number, string>(async (items) => {
    batches.push([...items]);
    await new Promise<void>((resolve) => gates.push(resolve));
    return items.map(answer);
  }, maxBatch);
  const release = async () => {
    // Let the batch start (it is queued as a microtask) before releasing it.
    for (let turn = 0; turn < 5 && gates.length === 0; turn += 1) await Promise.resolve();
    const gate = gates.shift();
    if (gate === undefined) throw new Error('no batch in flight');
    gate();
  };
  return { batcher, batches, release };
}

const value = (item: number): BatchAnswer<string> => ({ value: `v${item}` });

describe('NaturalBatcher', () => {
  it('sends a lone item at once, and items submitted together in one batch', async () => {
    const { batcher, batches, release } = gatedBatcher(8, value);
    const lone = batcher.submit(1);
    await release();
    expect(await lone).toBe('v1');
    const together = [batcher.submit(2), batcher.submit(3)];
    await release();
    expect(await Promise.all(together)).toEqual(['v2', 'v3']);
    expect(batches).toEqual([[1], [2, 3]]);
    expect(batcher.busy).toBe(false);
  });

  it('gathers what arrives during a batch into the next one, at most maxBatch each', async () => {
    const { batcher, batches, release } = gatedBatcher(2, value);
    const results = [batcher.submit(1)];
    await Promise.resolve();
    results.push(batcher.submit(2), batcher.submit(3), batcher.submit(4));
    expect(batcher.waiting).toBe(3);
    await release();
    await release();
    await release();
    expect(await Promise.all(results)).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect(batches).toEqual([[1], [2, 3], [4]]);
  });

  it('sends an item answered `again` first in the next batch', async () => {
    let asked = 0;
    const { batcher, batches, release } = gatedBatcher(8, (item) => {
      asked += 1;
      return item === 2 && asked <= 3 ? { again: true } : value(item);
    });
    const results = [batcher.submit(1), batcher.submit(2), batcher.submit(3)];
    await release();
    const later = batcher.submit(4);
    await release();
    expect(await Promise.all([...results, later])).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect(batches).toEqual([
      [1, 2, 3],
      [2, 4],
    ]);
  });

  it('rejects the items of a failed batch only', async () => {
    let calls = 0;
    const batcher = new NaturalBatcher<number, number>(async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('connection lost');
      return items.map((item) => ({ value: item * 10 }));
    }, 8);
    const failed = batcher.submit(1);
    const next = batcher.submit(2);
    await expect(failed).rejects.toThrow('connection lost');
    await expect(next).rejects.toThrow('connection lost');
    expect(await batcher.submit(3)).toBe(30);
  });

  it('says when it has nothing left to do', async () => {
    let idle = 0;
    const batcher = new NaturalBatcher<number, number>(
      async (items) => items.map((item) => ({ value: item })),
      1,
      () => {
        idle += 1;
      },
    );
    expect(await Promise.all([batcher.submit(1), batcher.submit(2)])).toEqual([1, 2]);
    await Promise.resolve();
    expect(idle).toBe(1);
    expect(batcher.busy).toBe(false);
  });

  it('refuses an answer count that does not match the batch', async () => {
    const batcher = new NaturalBatcher<number, number>(async () => [], 8);
    await expect(batcher.submit(1)).rejects.toThrow('a batch of 1 answered 0 times');
    expect(() => new NaturalBatcher(async () => [], 0)).toThrow(RangeError);
  });
});
