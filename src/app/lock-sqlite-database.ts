import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { AasError, normaliseError } from '../kernel/index.js';
import { type HeldLock, holdLockDirectory, LOCK_STALE_MS } from './hold-lock-directory.js';

/** The server that holds a SQLite database, as it recorded itself beside the lock. */
export interface SqliteHolder {
  readonly pid: number;
  readonly host: string;
}

export interface SqliteLockOptions {
  readonly waitMs?: number;
  /** Told once, when another server holds the database and this start begins to wait. */
  readonly onWait?: (waitMs: number, holder: SqliteHolder | null) => void;
}

/**
 * The lock directory of the SQLite database at `sqlitePath`, and the record of who holds it:
 * beside the database, as its -wal and -shm files are, so that whatever names the same file
 * finds the same lock. The path is resolved as the store resolves it when it opens the file.
 */
export function sqliteLockPaths(sqlitePath: string): { lock: string; holder: string } {
  const database = resolve(sqlitePath);
  return { lock: `${database}.server-lock`, holder: `${database}.server-lock.json` };
}

/**
 * Takes the SQLite database at `sqlitePath` for one server process. A server on SQLite acts
 * as the only one: it leads the lease sweep and finishes abandoned promotions unconditionally,
 * fires schedules, collects workspaces and claims runs for its embedded workers; two on one
 * file would do all of that twice. (Replicas need PostgreSQL, whose leadership and relay they
 * share.) Commands that open the file for a moment (aas run, aas sessions…) take no lock: they
 * work beside a running server as before. The lock is held as a worker holds its home (see
 * holdLockDirectory): a server killed with SIGKILL frees it within LOCK_STALE_MS, and a start
 * waits that long for one that died a moment ago.
 * `onLost` is called when the lock turned out not to be this server's any more.
 */
export async function lockSqliteDatabase(
  sqlitePath: string,
  onLost: (error: Error) => void,
  options: SqliteLockOptions = {},
): Promise<HeldLock> {
  const paths = sqliteLockPaths(sqlitePath);
  const database = resolve(sqlitePath);
  try {
    // As the store does before it opens the file.
    await mkdir(dirname(database), { recursive: true });
  } catch (thrown) {
    throw new AasError(
      'CONFIG_INVALID',
      `cannot use ${dirname(database)} for the SQLite database: ${normaliseError(thrown).message}`,
      { file: database, hint: 'point AAS_HOME (or --home) at a directory you can write' },
    );
  }
  const lock = await holdLockDirectory(
    paths.lock,
    onLost,
    {
      taken: async (waitedMs) => {
        const holder = await readLiveHolder(paths.holder);
        const by = holder === null ? '' : ` (${describeHolder(holder)})`;
        const held =
          waitedMs > 0 ? `; its lock stayed taken for ${Math.round(waitedMs / 1_000)} s` : '';
        return new AasError(
          'CONFIG_INVALID',
          `another aas server${by} is running on the SQLite database ${database}${held}`,
          {
            file: database,
            hint: `stop that server first: one server runs on a SQLite database (commands such as aas run and aas sessions work beside it). To run servers side by side as replicas, use PostgreSQL (AAS_DATABASE_URL). A server killed without stopping frees ${paths.lock} ${LOCK_STALE_MS / 1_000} s after it died.`,
          },
        );
      },
      unusable: (error) =>
        new AasError('CONFIG_INVALID', `cannot lock ${paths.lock}: ${error.message}`, {
          file: database,
          hint: 'point AAS_HOME (or --home) at a directory you can write',
        }),
    },
    {
      ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
      ...(options.onWait === undefined
        ? {}
        : {
            onWait: async (waitMs: number) => {
              options.onWait?.(waitMs, await readLiveHolder(paths.holder));
            },
          }),
    },
  );
  const self: SqliteHolder = { pid: process.pid, host: hostname() };
  try {
    await writeFile(paths.holder, `${JSON.stringify(self)}\n`, { mode: 0o600 });
  } catch (thrown) {
    await lock.release();
    throw new AasError(
      'CONFIG_INVALID',
      `cannot record this server in ${paths.holder}: ${normaliseError(thrown).message}`,
      { file: database, hint: 'point AAS_HOME (or --home) at a directory you can write' },
    );
  }
  let released: Promise<void> | null = null;
  return {
    release() {
      released ??= (async () => {
        // Only our own record: a lock lost to another server leaves that server's in place.
        const recorded = await readHolder(paths.holder);
        if (recorded?.pid === self.pid && recorded.host === self.host) {
          await rm(paths.holder, { force: true }).catch(() => undefined);
        }
        await lock.release();
      })();
      return released;
    },
  };
}

/** `pid 123`, with the host when it is another one (a home on a shared mount). */
export function describeHolder(holder: SqliteHolder): string {
  return holder.host === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.host}`;
}

async function readHolder(path: string): Promise<SqliteHolder | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { pid, host } = parsed as { pid?: unknown; host?: unknown };
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 && typeof host === 'string'
      ? { pid, host }
      : null;
  } catch {
    return null;
  }
}

/**
 * The recorded holder, unless it is a process of this host that no longer exists: the record a
 * killed server left, read while the lock it also left is not stale yet (or in the moment
 * before a new holder records itself). A process of another host cannot be checked from here.
 */
async function readLiveHolder(path: string): Promise<SqliteHolder | null> {
  const holder = await readHolder(path);
  if (holder === null || holder.host !== hostname()) return holder;
  try {
    process.kill(holder.pid, 0);
    return holder;
  } catch (thrown) {
    // EPERM: it exists, as another user's process.
    return (thrown as NodeJS.ErrnoException).code === 'EPERM' ? holder : null;
  }
}
