import type BetterSqlite3 from 'better-sqlite3';
import type { CompiledQuery, Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema } from './database-schema.js';
import type { SqlExecutor } from './sql-executor.js';
import { runOperationSync, type SqlOperation } from './sql-operation.js';

/**
 * The store issues a bounded set of statement shapes (events are inserted in power-of-two
 * chunks); the cap only guards against an unforeseen source of distinct SQL.
 */
const MAX_CACHED_STATEMENTS = 256;
const NO_ROWS: readonly unknown[] = [];

/**
 * Runs operations synchronously on better-sqlite3, each write as one `BEGIN IMMEDIATE` …
 * `COMMIT` with no `await` in between. Why not Kysely's async SqliteDriver: better-sqlite3
 * waits for a busy lock by blocking the thread, so with two stores on one file in one process,
 * store B waiting for the lock would block the very event loop store A needs to reach its
 * COMMIT, and B fails after busy_timeout. A transaction that never yields cannot be overtaken.
 * `IMMEDIATE` takes the write lock before the first statement, so the busy timeout applies and
 * a read-then-write transaction can never fail on lock upgrade (SQLITE_BUSY_SNAPSHOT in WAL).
 */
export class SqliteExecutor implements SqlExecutor {
  readonly #sqlite: BetterSqlite3.Database;
  readonly #kysely: Kysely<DatabaseSchema>;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  readonly #begin: BetterSqlite3.Statement;
  readonly #commit: BetterSqlite3.Statement;
  readonly #rollback: BetterSqlite3.Statement;
  #closed = false;

  constructor(sqlite: BetterSqlite3.Database, kysely: Kysely<DatabaseSchema>) {
    this.#sqlite = sqlite;
    this.#kysely = kysely;
    this.#begin = sqlite.prepare('BEGIN IMMEDIATE');
    this.#commit = sqlite.prepare('COMMIT');
    this.#rollback = sqlite.prepare('ROLLBACK');
  }

  async read<T>(operation: () => SqlOperation<T>): Promise<T> {
    this.#assertOpen();
    return runOperationSync(operation(), (query) => this.#execute(query));
  }

  async write<T>(operation: () => SqlOperation<T>): Promise<T> {
    this.#assertOpen();
    this.#begin.run();
    try {
      const result = runOperationSync(operation(), (query) => this.#execute(query));
      this.#commit.run();
      return result;
    } catch (error) {
      if (this.#sqlite.inTransaction) this.#rollback.run();
      throw error;
    }
  }

  /** Under the write lock, as any write: a transaction costs SQLite no round trip. */
  async autocommit<T>(operation: () => SqlOperation<T>): Promise<T> {
    return this.write(operation);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    await this.#kysely.destroy();
    // Kysely closes the connection only if it ever used it; after a migration-free open it
    // did not.
    if (this.#sqlite.open) this.#sqlite.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new AasError('STORE_UNAVAILABLE', 'the store is closed');
  }

  #execute(query: CompiledQuery): readonly unknown[] {
    let statement = this.#statements.get(query.sql);
    if (statement === undefined) {
      if (this.#statements.size >= MAX_CACHED_STATEMENTS) this.#statements.clear();
      statement = this.#sqlite.prepare(query.sql);
      this.#statements.set(query.sql, statement);
    }
    if (statement.reader) return statement.all(...query.parameters);
    statement.run(...query.parameters);
    return NO_ROWS;
  }
}
