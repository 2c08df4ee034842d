import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError, normaliseError } from '../kernel/index.js';

/** Written into a home whose database is PostgreSQL: where it is, without credentials. */
export const HOME_DATABASE_FILE = 'database.json';

/**
 * Keeps a home and its database together. A home used with PostgreSQL says so in a file
 * (recordPostgresHome); a command that would open the home's own SQLite database instead
 * (AAS_DATABASE_URL forgotten in one shell) is refused, rather than creating an empty `aas.db`
 * beside the deployment and answering "no sessions yet", or a token no server knows of.
 */
export async function refuseSqliteInPostgresHome(home: string): Promise<void> {
  const path = join(home, HOME_DATABASE_FILE);
  const recorded = await readRecorded(path);
  if (recorded === undefined) return;
  throw new AasError(
    'CONFIG_INVALID',
    `${home} is the home of a PostgreSQL deployment (${recorded}), and AAS_DATABASE_URL is not set: this command would use the home's SQLite database instead`,
    {
      field: 'AAS_DATABASE_URL',
      hint: `set AAS_DATABASE_URL as the servers have it (or pass --server URL); if the home moved to SQLite for good, delete ${path}`,
    },
  );
}

/**
 * Records that `home` is used with the PostgreSQL database at `databaseUrl`: called once the
 * database opened, so that a mistyped or unreachable URL leaves no record behind.
 */
export async function recordPostgresHome(home: string, databaseUrl: string): Promise<void> {
  const path = join(home, HOME_DATABASE_FILE);
  const where = describeDatabase(databaseUrl);
  if ((await readRecorded(path)) === where) return;
  try {
    await writeFile(path, `${JSON.stringify({ dialect: 'postgres', database: where })}\n`, {
      mode: 0o600,
    });
  } catch (thrown) {
    throw new AasError(
      'CONFIG_INVALID',
      `cannot record the home's database in ${path}: ${normaliseError(thrown).message}`,
      { field: 'AAS_HOME', hint: 'point AAS_HOME (or --home) at a directory you can write' },
    );
  }
}

/** `host:port/database` of a PostgreSQL URL: never its user or password. */
function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return '(a PostgreSQL database)';
  }
}

async function readRecorded(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'database' in parsed) {
      const { database } = parsed as { database: unknown };
      if (typeof database === 'string') return database;
    }
  } catch {
    // Not what this file holds: treated as a PostgreSQL home all the same, below.
  }
  return '(unreadable record)';
}
