import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { rowsOf, runOperationAsync, runOperationSync, type SqlOperation } from './sql-operation.js';

function* sumOfTwoQueries(): SqlOperation<number> {
  const [a] = yield* rowsOf(CompiledQuery.raw('SELECT 1') as CompiledQuery<{ n: number }>);
  const [b] = yield* rowsOf(CompiledQuery.raw('SELECT 2') as CompiledQuery<{ n: number }>);
  return (a?.n ?? 0) + (b?.n ?? 0);
}

const fakeRows = (query: CompiledQuery): readonly unknown[] => [{ n: Number(query.sql.slice(7)) }];

describe('SqlOperation drivers', () => {
  it('feed each statement its rows, synchronously or asynchronously, with one result', async () => {
    const executed: string[] = [];
    const sync = runOperationSync(sumOfTwoQueries(), (query) => {
      executed.push(query.sql);
      return fakeRows(query);
    });
    const async = await runOperationAsync(sumOfTwoQueries(), async (query) => fakeRows(query));
    expect(sync).toBe(3);
    expect(async).toBe(3);
    expect(executed).toEqual(['SELECT 1', 'SELECT 2']);
  });

  it('stops at the first failing statement', async () => {
    const executed: string[] = [];
    const failing = (query: CompiledQuery) => {
      executed.push(query.sql);
      throw new Error('no');
    };
    expect(() => runOperationSync(sumOfTwoQueries(), failing)).toThrow('no');
    await expect(
      runOperationAsync(sumOfTwoQueries(), async (query) => failing(query)),
    ).rejects.toThrow('no');
    expect(executed).toEqual(['SELECT 1', 'SELECT 1']);
  });
});
