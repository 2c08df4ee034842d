import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HOME_DATABASE_FILE,
  recordPostgresHome,
  refuseSqliteInPostgresHome,
} from './home-database.js';

describe('a home and its database', () => {
  const home = mkdtempSync(join(tmpdir(), 'aas-home-db-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const record = join(home, HOME_DATABASE_FILE);

  it('lets a home without a record open its SQLite database', async () => {
    await refuseSqliteInPostgresHome(home);
    expect(existsSync(record)).toBe(false);
  });

  it('records where a PostgreSQL home’s database is, without its credentials', async () => {
    await recordPostgresHome(home, 'postgres://aas:s3cret@db.internal:6432/aas');
    const text = readFileSync(record, 'utf8');
    expect(JSON.parse(text)).toEqual({ dialect: 'postgres', database: 'db.internal:6432/aas' });
    expect(text).not.toContain('s3cret');
    expect(statSync(record).mode & 0o777).toBe(0o600);
  });

  it('refuses to open SQLite in a PostgreSQL home, naming the variable and the way out', async () => {
    await expect(refuseSqliteInPostgresHome(home)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: {
        field: 'AAS_DATABASE_URL',
        hint: expect.stringContaining(record),
      },
      message: expect.stringContaining('db.internal:6432/aas'),
    });
  });
});
