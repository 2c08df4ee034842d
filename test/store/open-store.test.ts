import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type AasError, isAasError } from '../../src/kernel/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { storeDialects } from './dialects.js';

async function openError(promise: Promise<Store>): Promise<AasError> {
  const outcome = await promise.then(
    async (store) => {
      await store.close();
      return new Error('expected openStore to fail');
    },
    (error: unknown) => error,
  );
  if (!isAasError(outcome)) throw outcome;
  return outcome;
}

describe('openStore', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = makeTempDir('aas-open-');
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  it('uses SQLite at sqlitePath, creating parent directories, in WAL mode', async () => {
    const sqlitePath = join(tempDir(), 'a', 'b', 'aas.db');
    const store = await openStore({ sqlitePath });
    expect(store.dialect).toBe('sqlite');
    await store.close();
    const db = new Database(sqlitePath, { readonly: true });
    // journal_mode is stored in the file; the other pragmas are per connection.
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('treats a databaseUrl that is not postgres:// as absent', async () => {
    const sqlitePath = join(tempDir(), 'aas.db');
    const store = await openStore({ databaseUrl: 'mysql://example', sqlitePath });
    expect(store.dialect).toBe('sqlite');
    await store.close();
  });

  it('opens one fresh SQLite file from several stores at once', async () => {
    const sqlitePath = join(tempDir(), 'aas.db');
    const stores = await Promise.all([1, 2, 3].map(() => openStore({ sqlitePath })));
    await Promise.all(stores.map((store) => store.close()));
  });

  it('reports an unwritable SQLite location as STORE_UNAVAILABLE naming the path', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'not a directory');
    const error = await openError(openStore({ sqlitePath: join(dir, 'file', 'aas.db') }));
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toContain(join(dir, 'file', 'aas.db'));
    expect(error.details.hint).toBeTruthy();
  });

  it('reports a file that is not a database as STORE_UNAVAILABLE', async () => {
    const sqlitePath = join(tempDir(), 'aas.db');
    writeFileSync(sqlitePath, 'x'.repeat(4096));
    const error = await openError(openStore({ sqlitePath }));
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toContain(sqlitePath);
  });

  for (const scheme of ['postgres', 'postgresql']) {
    it(`reports an unreachable ${scheme}:// server by host, never by password`, async () => {
      const error = await openError(
        openStore({
          // Port 1 on loopback: refused at once, no time-out to wait for.
          databaseUrl: `${scheme}://aas:s3cret-pw@127.0.0.1:1/aas`,
          sqlitePath: join(tempDir(), 'unused.db'),
        }),
      );
      expect(error.code).toBe('STORE_UNAVAILABLE');
      expect(error.message).toContain('127.0.0.1:1/aas');
      expect(error.message).not.toContain('s3cret-pw');
      expect(JSON.stringify(error.toJSON())).not.toContain('s3cret-pw');
      expect(error.details.hint).toMatch(/PostgreSQL/);
    });
  }
});

const dialects = await storeDialects();
for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`migrations: ${dialect.name}`, () => {
    it('refuses a database migrated by a newer aas, with a forward-only hint', async () => {
      const fixture = await dialect.open();
      try {
        await fixture.store.close();
        await fixture.rawQuery(
          "INSERT INTO kysely_migration (name, timestamp) VALUES ('9999-from-the-future', '2030-01-01T00:00:00.000Z')",
        );
        const error = await openError(fixture.openAnother());
        expect(error.code).toBe('INTERNAL');
        expect(error.message).toContain('9999-from-the-future');
        expect(error.details.hint).toMatch(/forward-only/);
      } finally {
        await fixture.cleanup();
      }
    });
  });
}
