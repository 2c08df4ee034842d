import type { CompiledQuery } from 'kysely';

/**
 * A unit of database work written once for both dialects. It yields compiled statements and is
 * resumed with each statement's rows, so the same logic can be driven synchronously (SQLite:
 * the whole transaction runs without yielding to the event loop) or asynchronously (PostgreSQL).
 */
export type SqlOperation<T> = Generator<CompiledQuery, T, readonly unknown[]>;

/** Runs `query` inside an operation and returns its rows, typed as the query builder typed them. */
export function* rowsOf<Row>(
  query: CompiledQuery<Row>,
): Generator<CompiledQuery, readonly Row[], readonly unknown[]> {
  const rows = yield query;
  // The driver returned exactly the rows of this compiled query, whose type Kysely inferred.
  return rows as readonly Row[];
}

export function runOperationSync<T>(
  operation: SqlOperation<T>,
  execute: (query: CompiledQuery) => readonly unknown[],
): T {
  let step = operation.next();
  while (!step.done) step = operation.next(execute(step.value));
  return step.value;
}

export async function runOperationAsync<T>(
  operation: SqlOperation<T>,
  execute: (query: CompiledQuery) => Promise<readonly unknown[]>,
): Promise<T> {
  let step = operation.next();
  while (!step.done) step = operation.next(await execute(step.value));
  return step.value;
}
