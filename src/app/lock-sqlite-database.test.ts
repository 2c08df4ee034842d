import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_STALE_MS } from './hold-lock-directory.js';
import { lockSqliteDatabase, sqliteLockPaths } from './lock-sqlite-database.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function newDatabase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aas-sqlite-lock-'));
  dirs.push(dir);
  return join(dir, 'aas.db');
}

/** The pid of a process that has ended. */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  if (pid === undefined) throw new Error('cannot start node');
  return pid;
}

const ignoreLoss = () => undefined;

describe('lockSqliteDatabase', () => {
  it('holds the database for one server, naming it and its pid to the next', async () => {
    const database = newDatabase();
    const paths = sqliteLockPaths(database);
    expect(paths).toEqual({
      lock: `${database}.server-lock`,
      holder: `${database}.server-lock.json`,
    });
    const first = await lockSqliteDatabase(database, ignoreLoss);
    expect(JSON.parse(readFileSync(paths.holder, 'utf8'))).toEqual({
      pid: process.pid,
      host: hostname(),
    });
    // The same file by another name is the same lock.
    const sameFile = relative(process.cwd(), database);
    const refused = await lockSqliteDatabase(sameFile, ignoreLoss, { waitMs: 0 }).catch(
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `another aas server (pid ${process.pid}) is running on the SQLite database ${database}`,
      details: { file: database },
    });
    const hint = String((refused as { details: { hint: string } }).details.hint);
    expect(hint).toContain('stop that server first');
    expect(hint).toContain('PostgreSQL (AAS_DATABASE_URL)');
    expect(hint).toContain(`frees ${paths.lock} ${LOCK_STALE_MS / 1_000} s after it died`);
    await first.release();
    // Twice is harmless; the record goes with the lock.
    await first.release();
    expect(existsSync(paths.lock)).toBe(false);
    expect(existsSync(paths.holder)).toBe(false);
    const second = await lockSqliteDatabase(database, ignoreLoss);
    await second.release();
  });

  it('takes over the lock of a server that was killed, once it went stale', async () => {
    const database = newDatabase();
    const paths = sqliteLockPaths(database);
    mkdirSync(paths.lock);
    writeFileSync(paths.holder, JSON.stringify({ pid: deadPid(), host: hostname() }));
    // Not stale yet: refused, without the pid of a process that no longer exists.
    const fresh = await lockSqliteDatabase(database, ignoreLoss, { waitMs: 0 }).catch(
      (error: unknown) => error,
    );
    expect(fresh).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `another aas server is running on the SQLite database ${database}`,
    });
    const past = new Date(Date.now() - LOCK_STALE_MS - 5_000);
    utimesSync(paths.lock, past, past);
    const taken = await lockSqliteDatabase(database, ignoreLoss);
    expect(JSON.parse(readFileSync(paths.holder, 'utf8'))).toMatchObject({ pid: process.pid });
    await taken.release();
  });

  it('waits for a lock whose holder died a moment ago, and says who holds it', async () => {
    const database = newDatabase();
    const paths = sqliteLockPaths(database);
    mkdirSync(paths.lock);
    // Another host's record cannot be checked from here: it is named as it is.
    writeFileSync(paths.holder, JSON.stringify({ pid: 4321, host: 'elsewhere.example' }));
    // Refreshed for the last time a little less than the stale time ago: stale within 2 s.
    const last = new Date(Date.now() - LOCK_STALE_MS + 1_500);
    utimesSync(paths.lock, last, last);
    const waits: unknown[] = [];
    const taken = await lockSqliteDatabase(database, ignoreLoss, {
      waitMs: 10_000,
      onWait: (waitMs, holder) => waits.push({ waitMs, holder }),
    });
    expect(waits).toEqual([{ waitMs: 10_000, holder: { pid: 4321, host: 'elsewhere.example' } }]);
    await taken.release();
  });

  it('says how long it waited for a server that kept its lock', async () => {
    const database = newDatabase();
    const holder = await lockSqliteDatabase(database, ignoreLoss);
    const refused = await lockSqliteDatabase(database, ignoreLoss, { waitMs: 1_000 }).catch(
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `another aas server (pid ${process.pid}) is running on the SQLite database ${database}; its lock stayed taken for 1 s`,
    });
    await holder.release();
  });

  it('tells its holder when the lock was taken from it, and leaves the new record alone', async () => {
    const database = newDatabase();
    const paths = sqliteLockPaths(database);
    let lost: (error: Error) => void = () => undefined;
    const whenLost = new Promise<Error>((resolve) => {
      lost = resolve;
    });
    const lock = await lockSqliteDatabase(database, (error) => lost(error));
    rmSync(paths.lock, { recursive: true });
    // Noticed at its next refresh.
    expect(await whenLost).toMatchObject({ code: 'ECOMPROMISED' });
    const other = { pid: 4321, host: 'elsewhere.example' };
    writeFileSync(paths.holder, JSON.stringify(other));
    await lock.release();
    expect(JSON.parse(readFileSync(paths.holder, 'utf8'))).toEqual(other);
  });

  it('names the database it cannot lock', async () => {
    const database = newDatabase();
    // A file where the database's directory should be.
    writeFileSync(join(database, '..', 'blocked'), '');
    const refused = await lockSqliteDatabase(
      join(database, '..', 'blocked', 'aas.db'),
      ignoreLoss,
    ).catch((error: unknown) => error);
    expect(refused).toMatchObject({
      code: 'CONFIG_INVALID',
      details: { hint: expect.any(String) },
    });
    expect(String((refused as Error).message)).toContain(join(database, '..', 'blocked'));
  });
});
