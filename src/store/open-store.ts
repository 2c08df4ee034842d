import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { AasError, isAasError } from '../kernel/index.js';
import { announceCommitsOf } from './commit-announcements.js';
import type { DatabaseSchema } from './database-schema.js';
import { KyselyStore } from './kysely-store.js';
import { migrateSqlite, migrateToLatest } from './migrate.js';
import { PostgresExecutor } from './postgres-executor.js';
import { PreparedPostgresDialect } from './postgres-prepared-driver.js';
import { linkReplica } from './replica-links.js';
import { SqliteExecutor } from './sqlite-executor.js';
import type { OpenStoreOptions, Store } from './store.js';
import { describeDatabaseUrl } from './store-errors.js';

/** How long a writer waits for another process's SQLite write lock before failing. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;
/** Without a limit, pg waits for the OS TCP time-out (minutes) on an unreachable host. */
const PG_CONNECT_TIMEOUT_MS = 10_000;
const PG_POOL_MAX_CONNECTIONS = 10;

export function isPostgresUrl(databaseUrl: string | undefined): databaseUrl is string {
  return databaseUrl !== undefined && /^postgres(ql)?:\/\//.test(databaseUrl);
}

/**
 * Opens the store and applies pending migrations. `postgres://` or `postgresql://` in
 * `databaseUrl` selects PostgreSQL; anything else uses SQLite at `sqlitePath`.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  return isPostgresUrl(options.databaseUrl)
    ? openPostgres(options.databaseUrl)
    : openSqlite(options.sqlitePath);
}

function unavailable(message: string, hint: string, cause: unknown): AasError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new AasError('STORE_UNAVAILABLE', `${message}: ${reason}`, { hint }, { cause });
}

/**
 * The database holds every run's patch and logs, the sessions' history and the token hashes:
 * readable by its owner only. A new file is created 0600 before SQLite opens it (SQLite gives
 * its -wal and -shm files the database file's mode); one this user owns that others could read
 * is narrowed to 0600. A file another user owns is left as it is (opening it says the rest).
 */
function keepPrivate(path: string): void {
  try {
    closeSync(openSync(path, 'a', 0o600));
  } catch {
    // An unusable path is reported by the open that follows, with its own message.
    return;
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const { mode, uid } = statSync(file);
      if ((mode & 0o077) !== 0 && uid === process.getuid?.()) chmodSync(file, mode & 0o700);
    } catch {
      // No such file (no WAL yet): nothing to narrow.
    }
  }
}

async function openSqlite(sqlitePath: string): Promise<Store> {
  const absolutePath = resolve(sqlitePath);
  let sqlite: Database.Database;
  try {
    mkdirSync(dirname(absolutePath), { recursive: true });
    keepPrivate(absolutePath);
    sqlite = new Database(absolutePath);
  } catch (error) {
    throw unavailable(
      `cannot open SQLite database ${absolutePath}`,
      'check that the directory is writable (or set a PostgreSQL databaseUrl)',
      error,
    );
  }
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    // First, so that even the pragmas below wait for another process's lock instead of failing.
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // WAL: readers never block the writer, and a crash cannot corrupt the database.
    sqlite.pragma('journal_mode = WAL');
    // NORMAL under WAL is still corruption-safe; it fsyncs at checkpoints instead of at every
    // commit, so a power loss (not a process crash) may lose the last transactions. Measured on
    // a 2-vCPU VM: ~43k single-row commits/s with NORMAL against 6.5k with FULL.
    sqlite.pragma('synchronous = NORMAL');
    // SQLite ignores REFERENCES clauses unless this is enabled, per connection.
    sqlite.pragma('foreign_keys = ON');
    await migrateSqlite(db, sqlite, absolutePath);
    return new KyselyStore('sqlite', db, new SqliteExecutor(sqlite, db));
  } catch (error) {
    await db.destroy();
    if (sqlite.open) sqlite.close();
    if (isAasError(error)) throw error;
    throw unavailable(
      `cannot prepare SQLite database ${absolutePath}`,
      'another process may hold the database lock, or the file is not an aas database',
      error,
    );
  }
}

async function openPostgres(databaseUrl: string): Promise<Store> {
  const where = describeDatabaseUrl(databaseUrl);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: PG_POOL_MAX_CONNECTIONS,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
  });
  // An idle pooled client whose server goes away emits 'error' on the pool; unhandled, that
  // crashes the process. The next query on a fresh client reports the outage instead.
  pool.on('error', () => undefined);
  const db = new Kysely<DatabaseSchema>({ dialect: new PreparedPostgresDialect(pool) });
  try {
    // Through Kysely, so that its driver owns the pool from here on and destroy() ends it.
    await sql`SELECT 1`.execute(db);
  } catch (error) {
    await db.destroy();
    throw unavailable(
      `cannot connect to PostgreSQL at ${where}`,
      'check that PostgreSQL is running and reachable, and that the user, password and database in the URL are right',
      error,
    );
  }
  try {
    await migrateToLatest(db, { disableTransactions: false });
  } catch (error) {
    await db.destroy();
    throw error;
  }
  // Each store announces its appends under an id of its own, so that its relay can tell the
  // events it committed (already on its process's bus) from those of other replicas.
  const origin = randomBytes(9).toString('base64url');
  announceCommitsOf(db, origin);
  const store = new KyselyStore('postgres', db, new PostgresExecutor(db));
  linkReplica(store, { databaseUrl, origin });
  return store;
}
