import type { Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema } from './database-schema.js';
import { isStalePreparedStatement } from './postgres-prepared-driver.js';
import type { SqlExecutor } from './sql-executor.js';
import { runOperationAsync, type SqlOperation } from './sql-operation.js';

/**
 * Runs operations through Kysely on a pg.Pool. Writes use one pooled connection in a READ
 * COMMITTED transaction; the operations themselves take the session row lock first (see
 * KyselyStore), which is what serialises concurrent appenders.
 */
export class PostgresExecutor implements SqlExecutor {
  readonly #kysely: Kysely<DatabaseSchema>;
  #closed = false;

  constructor(kysely: Kysely<DatabaseSchema>) {
    this.#kysely = kysely;
  }

  async read<T>(operation: () => SqlOperation<T>): Promise<T> {
    this.#assertOpen();
    return runOperationAsync(
      operation(),
      async (query) => (await this.#kysely.executeQuery(query)).rows,
    );
  }

  /** Each statement commits on its own, so a single-statement write costs one round trip. */
  async autocommit<T>(operation: () => SqlOperation<T>): Promise<T> {
    return this.read(operation);
  }

  async write<T>(operation: () => SqlOperation<T>): Promise<T> {
    this.#assertOpen();
    const run = () =>
      this.#kysely
        .transaction()
        .execute((trx) =>
          runOperationAsync(operation(), async (query) => (await trx.executeQuery(query)).rows),
        );
    try {
      return await run();
    } catch (error) {
      // Rolled back by a stale prepared statement: the driver prepares no more, so once more.
      if (!isStalePreparedStatement(error)) throw error;
      return run();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#kysely.destroy();
  }

  #assertOpen(): void {
    if (this.#closed) throw new AasError('STORE_UNAVAILABLE', 'the store is closed');
  }
}
