import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError, normaliseError } from '../kernel/index.js';

/**
 * How long a worker's lock stays taken once its holder stops refreshing it: a worker killed
 * with SIGKILL frees its home this long after it died. The holder refreshes it every half.
 */
export const WORKER_HOME_LOCK_STALE_MS = 10_000;

export interface WorkerHomeLock {
  /** Gives the home back; safe to call more than once. */
  release(): Promise<void>;
}

/**
 * Takes `<home>/worker` for this process alone. Two workers on one home would present one
 * credential as one worker (each renewing the other's leases, neither knowing the other's
 * runs) and share one repository cache, whose pruning removes what the other is fetching.
 * The lock is a directory (`<home>/worker/lock`, created atomically by mkdir) whose mtime its
 * holder refreshes, so it works wherever the home is mounted and a dead holder's lock goes stale
 * instead of needing a hand to remove it. `onLost` is called when the lock could not be
 * refreshed in time or was taken over (the event loop stalled past the stale time, or the
 * directory was removed): the holder must stop claiming.
 */
export async function lockWorkerHome(
  home: string,
  onLost: (error: Error) => void,
): Promise<WorkerHomeLock> {
  const dir = join(home, 'worker');
  const lockPath = join(dir, 'lock');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  } catch (thrown) {
    throw new AasError(
      'CONFIG_INVALID',
      `cannot use ${dir} as the worker's directory: ${normaliseError(thrown).message}`,
      { field: 'AAS_HOME', hint: 'point AAS_HOME (or --home) at a directory you can write' },
    );
  }
  // Loaded here only: the library removes its locks at exit through process signal hooks,
  // which no other command needs.
  const lockfile = await import('proper-lockfile');
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      lockfilePath: lockPath,
      realpath: false,
      stale: WORKER_HOME_LOCK_STALE_MS,
      retries: 0,
      onCompromised: onLost,
    });
  } catch (thrown) {
    const error = normaliseError(thrown);
    if ((thrown as { code?: unknown } | null)?.code === 'ELOCKED') {
      throw new AasError('CONFIG_INVALID', `another aas worker is running on ${home}`, {
        field: '--home',
        hint: `stop that worker first, or give this one a home of its own (--home or AAS_HOME; it then registers with an enrolment secret of its own). A worker killed without stopping frees ${lockPath} ${WORKER_HOME_LOCK_STALE_MS / 1_000} s after it died.`,
      });
    }
    throw new AasError('CONFIG_INVALID', `cannot lock ${lockPath}: ${error.message}`, {
      field: 'AAS_HOME',
      hint: 'point AAS_HOME (or --home) at a directory you can write',
    });
  }
  let released: Promise<void> | null = null;
  return {
    release() {
      // A lock lost already cannot be released: there is nothing of ours left to give back.
      released ??= release().catch(() => undefined);
      return released;
    },
  };
}
