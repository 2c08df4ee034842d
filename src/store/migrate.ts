import type BetterSqlite3 from 'better-sqlite3';
import { type Kysely, Migrator } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema } from './database-schema.js';
import { MIGRATIONS, migrationProvider } from './migrations/migration-provider.js';
import { toStoreError } from './store-errors.js';

const FORWARD_ONLY_HINT =
  'migrations are forward-only: a database migrated by a newer aas cannot be opened by an older one';

/**
 * Applies pending migrations with Kysely's Migrator. On PostgreSQL the Migrator serialises
 * concurrent openers with an advisory lock and runs in a transaction. For SQLite the caller
 * provides the transaction (see migrateSqlite), hence `disableTransactions`.
 */
export async function migrateToLatest(
  db: Kysely<DatabaseSchema>,
  options: { disableTransactions: boolean },
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    disableTransactions: options.disableTransactions,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error')?.migrationName;
  const cause = toStoreError(error, failed === undefined ? 'migrate' : `migration ${failed}`);
  throw new AasError(
    cause.code,
    cause.message,
    { ...cause.details, hint: cause.details.hint ?? FORWARD_ONLY_HINT },
    { cause: error },
  );
}

/** Names of migrations applied to a SQLite database, or null before the first migration. */
function appliedSqliteMigrations(sqlite: BetterSqlite3.Database): Set<string> | null {
  const table = sqlite
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'")
    .get();
  if (table === undefined) return null;
  const names = sqlite.prepare('SELECT name FROM kysely_migration').pluck().all();
  return new Set(names.filter((name): name is string => typeof name === 'string'));
}

function isUpToDate(sqlite: BetterSqlite3.Database): boolean {
  const applied = appliedSqliteMigrations(sqlite);
  const known = Object.keys(MIGRATIONS);
  return (
    applied !== null && applied.size === known.length && known.every((name) => applied.has(name))
  );
}

/** Per database file: the migration in flight in this process, so openers queue behind it. */
const sqliteMigrationsInFlight = new Map<string, Promise<void>>();

/**
 * Migrates a SQLite database inside `BEGIN IMMEDIATE`, so two processes opening a fresh file at
 * once apply each migration exactly once (the second waits on busy_timeout, then finds nothing
 * to do). The migrator awaits between statements while holding the write lock; another store
 * in this process blocking on that lock would freeze the very event loop the migration needs,
 * so (a) an up-to-date database, the common case, is detected synchronously and never locked,
 * and (b) opens of one file within this process are queued.
 */
export async function migrateSqlite(
  db: Kysely<DatabaseSchema>,
  sqlite: BetterSqlite3.Database,
  absolutePath: string,
): Promise<void> {
  const previous = sqliteMigrationsInFlight.get(absolutePath) ?? Promise.resolve();
  const current = previous
    .catch(() => undefined)
    .then(async () => {
      if (isUpToDate(sqlite)) return;
      sqlite.exec('BEGIN IMMEDIATE');
      try {
        await migrateToLatest(db, { disableTransactions: true });
        sqlite.exec('COMMIT');
      } catch (error) {
        if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
        throw error;
      }
    });
  sqliteMigrationsInFlight.set(absolutePath, current);
  try {
    await current;
  } finally {
    if (sqliteMigrationsInFlight.get(absolutePath) === current) {
      sqliteMigrationsInFlight.delete(absolutePath);
    }
  }
}
