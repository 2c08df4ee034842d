import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, type Migration, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { expect } from 'vitest';
import { type Dialect, openStore, type Store } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations/migration-provider.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { POSTGRES_TEST_URL } from './dialects.js';

/** A database migrated only up to some earlier migration, to test the upgrade from there. */
export interface OldDatabase {
  /** Kysely over the database, for writing rows as the earlier schema knew them. */
  readonly db: Kysely<unknown>;
  openStore(): Promise<Store>;
  cleanup(): Promise<void>;
}

export async function sqliteDatabase(): Promise<OldDatabase> {
  const dir = makeTempDir('aas-migrate-');
  const sqlitePath = join(dir, 'aas.db');
  const db = new Kysely<unknown>({
    dialect: new SqliteDialect({ database: new Database(sqlitePath) }),
  });
  return {
    db,
    openStore: () => openStore({ sqlitePath }),
    async cleanup() {
      await db.destroy();
      removeDir(dir);
    },
  };
}

export async function postgresDatabase(): Promise<OldDatabase> {
  const name = `aas_test_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_TEST_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const pool = new pg.Pool({ connectionString: databaseUrl });
  // DROP DATABASE … WITH (FORCE) terminates whatever connection is still open (57P01); an
  // unlistened pool turns that into an unhandled error that fails the whole test run.
  pool.on('error', () => undefined);
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    openStore: () => openStore({ databaseUrl, sqlitePath: '/nonexistent/unused.db' }),
    async cleanup() {
      await db.destroy();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A fresh database of `dialect` with exactly `migrations` applied, in name order. */
export async function databaseMigratedTo(
  dialect: Dialect,
  migrations: Readonly<Record<string, Migration>>,
): Promise<OldDatabase> {
  const old = dialect === 'sqlite' ? await sqliteDatabase() : await postgresDatabase();
  const { error } = await new Migrator({
    db: old.db,
    provider: { getMigrations: async () => ({ ...migrations }) },
  }).migrateToLatest();
  expect(error).toBeUndefined();
  return old;
}

/** A fresh database of `dialect` migrated up to, not including, the migration named `name`. */
export function databaseMigratedBefore(dialect: Dialect, name: string): Promise<OldDatabase> {
  if (!(name in MIGRATIONS)) throw new Error(`no migration named ${name}`);
  return databaseMigratedTo(
    dialect,
    Object.fromEntries(Object.entries(MIGRATIONS).filter(([earlier]) => earlier < name)),
  );
}
