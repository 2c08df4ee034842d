import type { SqlOperation } from './sql-operation.js';

/** How a dialect executes operations: the only part of the store that differs by driver. */
export interface SqlExecutor {
  /** Runs an operation whose statements need no common transaction (single-statement reads). */
  read<T>(operation: () => SqlOperation<T>): Promise<T>;
  /** Runs an operation in one transaction: everything commits, or (on a throw) nothing does. */
  write<T>(operation: () => SqlOperation<T>): Promise<T>;
  /**
   * Runs an operation whose statements need no common transaction although they may write:
   * each write is one atomic statement and nothing it reads later depends on holding a lock.
   * PostgreSQL runs each statement on its own (no BEGIN/COMMIT round trips); SQLite runs it as
   * a write, under the database write lock.
   */
  autocommit<T>(operation: () => SqlOperation<T>): Promise<T>;
  close(): Promise<void>;
}
