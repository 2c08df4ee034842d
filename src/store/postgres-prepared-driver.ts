import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  PostgresDialect,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type pg from 'pg';
import { preparedStatementName } from './statement-cache.js';

/**
 * PostgreSQL through Kysely, with the store's cached statements (statement-cache.ts) run as
 * named prepared statements: each pooled connection parses and plans one once, then only binds
 * and executes it. Planning was most of the server's work on the hot writes: EXPLAIN ANALYZE of
 * a claim's write, 0.79 ms planning for 0.36 ms executing; on the fleet bench the server's CPU
 * per run fell from ~3.1 to ~1.9 ms. graphile-worker prepares its statements the same way.
 * Every other statement runs as before, unnamed.
 */
export class PreparedPostgresDialect extends PostgresDialect {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    super({ pool });
    this.#pool = pool;
  }

  override createDriver(): Driver {
    return new PreparedPostgresDriver(this.#pool);
  }
}

/** Whether a driver's connections still prepare: one switch for all of them. */
interface PrepareSwitch {
  on: boolean;
}

/** Kysely's PostgresDriver (0.28) for what the store uses: no cursors, no savepoints. */
class PreparedPostgresDriver implements Driver {
  #pool: pg.Pool | undefined;
  readonly #connections = new WeakMap<pg.PoolClient, PreparedConnection>();
  readonly #prepare: PrepareSwitch = { on: true };

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const pool = this.#pool;
    if (pool === undefined) throw new Error('driver has already been destroyed');
    const client = await pool.connect();
    if (this.#pool === undefined) {
      client.release();
      throw new Error('driver has already been destroyed');
    }
    let connection = this.#connections.get(client);
    if (connection === undefined) {
      connection = new PreparedConnection(client, this.#prepare);
      this.#connections.set(client, connection);
    }
    return connection;
  }

  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    const mode = [
      settings.isolationLevel === undefined ? '' : ` isolation level ${settings.isolationLevel}`,
      settings.accessMode === undefined ? '' : ` ${settings.accessMode}`,
    ].join('');
    await connection.executeQuery(
      CompiledQuery.raw(mode === '' ? 'begin' : `start transaction${mode}`),
    );
    prepared(connection).inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    prepared(connection).inTransaction = false;
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    prepared(connection).inTransaction = false;
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    prepared(connection).client.release();
  }

  async destroy(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }
}

function prepared(connection: DatabaseConnection): PreparedConnection {
  if (!(connection instanceof PreparedConnection)) {
    throw new Error('not a connection of this driver');
  }
  return connection;
}

/**
 * A prepared statement the server will not run as prepared, by SQLSTATE and the server function
 * that raised it (not localised, unlike the message): "cached plan must not change result type"
 * (another process migrated a table a `RETURNING *` names), "prepared statement does not exist"
 * (deallocated behind the client's back, e.g. by a pooler's DISCARD ALL) and "prepared
 * statement already exists" (a transaction-pooling PgBouncer before 1.21 handed this client a
 * server connection another client prepared it on).
 */
const STALE_PREPARED: ReadonlyMap<string, string> = new Map([
  ['0A000', 'RevalidateCachedQuery'],
  ['26000', 'FetchPreparedStatement'],
  ['42P05', 'StorePreparedStatement'],
]);

/** Errors of prepared statements found stale inside a transaction. */
const staleErrors = new WeakSet<object>();

/**
 * Whether `error` is a prepared statement found stale inside a transaction: it aborted that
 * transaction, and the same write run again runs unprepared (PostgresExecutor retries it once).
 */
export function isStalePreparedStatement(error: unknown): boolean {
  return typeof error === 'object' && error !== null && staleErrors.has(error);
}

class PreparedConnection implements DatabaseConnection {
  inTransaction = false;

  constructor(
    readonly client: pg.PoolClient,
    readonly prepare: PrepareSwitch,
  ) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const text = compiledQuery.sql;
    const values = [...compiledQuery.parameters];
    const name = this.prepare.on ? preparedStatementName(text) : undefined;
    let result: pg.QueryResult;
    try {
      result = await this.client.query(
        name === undefined ? { text, values } : { name, text, values },
      );
    } catch (error) {
      if (name === undefined || !isStale(error)) throw error;
      // Any connection may hold the stale plan: the process stops preparing (as fast as before
      // prepared statements) until it restarts, rather than fail once per connection.
      this.prepare.on = false;
      if (this.inTransaction) {
        staleErrors.add(error as object);
        throw error;
      }
      result = await this.client.query({ text, values });
    }
    const { command, rowCount, rows } = result;
    const changes =
      command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE';
    return {
      ...(changes ? { numAffectedRows: BigInt(rowCount ?? 0) } : {}),
      rows: (rows ?? []) as R[],
    };
  }

  // biome-ignore lint/correctness/useYield: refuses before yielding anything
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the store does not stream PostgreSQL results');
  }
}

function isStale(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code: unknown = Reflect.get(error, 'code');
  return typeof code === 'string' && STALE_PREPARED.get(code) === Reflect.get(error, 'routine');
}
