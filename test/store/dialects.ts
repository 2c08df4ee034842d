import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type Dialect, openStore, type Store } from '../../src/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * Real databases for store tests, one fixture per dialect. PostgreSQL runs against the server
 * at AAS_TEST_DATABASE_URL (default: local, trust auth); each fixture gets a fresh database
 * created through that URL and dropped afterwards, so tests never see each other's rows.
 */
export const POSTGRES_TEST_URL =
  process.env.AAS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** With AAS_REQUIRE_POSTGRES=1 (CI), an unreachable PostgreSQL fails instead of skipping. */
export const POSTGRES_REQUIRED = process.env.AAS_REQUIRE_POSTGRES === '1';

export interface StoreFixture {
  readonly store: Store;
  /** Set for PostgreSQL: the URL of this fixture's own database. */
  readonly databaseUrl: string | undefined;
  readonly sqlitePath: string;
  /** Opens another, independent store (own connection or pool) on the same database. */
  openAnother(): Promise<Store>;
  /** Runs SQL outside the store, on a connection of its own. */
  rawQuery(sql: string): Promise<unknown[]>;
  /** Closes every store opened through the fixture, then deletes the database. */
  cleanup(): Promise<void>;
}

export interface DialectFixture {
  readonly name: Dialect;
  /** False when the database cannot be reached; `unavailableReason` then says why. */
  readonly available: boolean;
  readonly unavailableReason: string | undefined;
  open(): Promise<StoreFixture>;
}

async function closeAll(stores: readonly Store[]): Promise<void> {
  await Promise.all(stores.map((store) => store.close()));
}

function sqliteFixture(): DialectFixture {
  return {
    name: 'sqlite',
    available: true,
    unavailableReason: undefined,
    async open() {
      const dir = makeTempDir('aas-store-');
      const sqlitePath = join(dir, 'nested', 'aas.db');
      const stores: Store[] = [];
      const openAnother = async () => {
        const store = await openStore({ sqlitePath });
        stores.push(store);
        return store;
      };
      const store = await openAnother();
      return {
        store,
        databaseUrl: undefined,
        sqlitePath,
        openAnother,
        async rawQuery(sql) {
          const db = new Database(sqlitePath);
          try {
            const statement = db.prepare(sql);
            if (statement.reader) return statement.all();
            statement.run();
            return [];
          } finally {
            db.close();
          }
        },
        async cleanup() {
          await closeAll(stores);
          removeDir(dir);
        },
      };
    },
  };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function probePostgres(url: string): Promise<string | undefined> {
  try {
    await withClient(url, (client) => client.query('SELECT 1'));
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function postgresFixture(adminUrl: string, unavailableReason: string | undefined): DialectFixture {
  return {
    name: 'postgres',
    available: unavailableReason === undefined,
    unavailableReason,
    async open() {
      // Identifier from hex only: safe to interpolate into CREATE/DROP DATABASE.
      const database = `aas_test_${randomBytes(6).toString('hex')}`;
      await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${database}`));
      const databaseUrl = withDatabase(adminUrl, database);
      const stores: Store[] = [];
      const openAnother = async () => {
        const store = await openStore({ databaseUrl, sqlitePath: '/nonexistent/unused.db' });
        stores.push(store);
        return store;
      };
      try {
        const store = await openAnother();
        return {
          store,
          databaseUrl,
          sqlitePath: '/nonexistent/unused.db',
          openAnother,
          rawQuery: (sql) =>
            withClient(databaseUrl, async (client) => (await client.query(sql)).rows),
          async cleanup() {
            await closeAll(stores);
            await withClient(adminUrl, (client) =>
              client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
            );
          },
        };
      } catch (error) {
        await withClient(adminUrl, (client) =>
          client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
        );
        throw error;
      }
    },
  };
}

/**
 * Both dialects, PostgreSQL marked unavailable (with a loud banner) when its server cannot be
 * reached. Suites should `describe.skipIf(!fixture.available)` and, when POSTGRES_REQUIRED,
 * fail instead of skipping.
 */
export async function storeDialects(): Promise<DialectFixture[]> {
  const unavailableReason = await probePostgres(POSTGRES_TEST_URL);
  if (unavailableReason !== undefined && !POSTGRES_REQUIRED) {
    const where = new URL(POSTGRES_TEST_URL).host;
    console.warn(
      [
        '',
        '*'.repeat(78),
        `POSTGRESQL CONFORMANCE SKIPPED: cannot reach ${where}: ${unavailableReason}`,
        'Start PostgreSQL or set AAS_TEST_DATABASE_URL (AAS_REQUIRE_POSTGRES=1 makes this fail).',
        '*'.repeat(78),
        '',
      ].join('\n'),
    );
  }
  return [sqliteFixture(), postgresFixture(POSTGRES_TEST_URL, unavailableReason)];
}
