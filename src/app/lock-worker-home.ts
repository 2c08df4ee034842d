import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError, normaliseError } from '../kernel/index.js';
import { holdLockDirectory, LOCK_STALE_MS, LOCK_WAIT_MS } from './hold-lock-directory.js';

/**
 * How long a worker's lock stays taken once its holder stops refreshing it: a worker killed
 * with SIGKILL frees its home this long after it died. The holder refreshes it every half.
 */
export const WORKER_HOME_LOCK_STALE_MS = LOCK_STALE_MS;

/**
 * How long a start waits for a taken lock: long enough for a holder that died a moment ago
 * (a supervisor restarting a killed worker at once) to go stale, plus one refresh period.
 */
export const WORKER_HOME_LOCK_WAIT_MS = LOCK_WAIT_MS;

export interface WorkerHomeLock {
  /** Gives the home back; safe to call more than once. */
  release(): Promise<void>;
}

/**
 * Takes `<home>/worker` for this process alone. Two workers on one home would present one
 * credential as one worker (each renewing the other's leases, neither knowing the other's
 * runs) and share one repository cache, whose pruning removes what the other is fetching.
 * The lock is a directory (`<home>/worker/lock`, see holdLockDirectory), so a dead holder's
 * lock goes stale instead of needing a hand to remove it. A taken lock is waited for up to
 * `waitMs` (a holder killed a moment ago frees it by then), with `onWait` told once. `onLost`
 * is called when the lock turned out not to be this holder's any more: the holder must stop
 * claiming. Never after `release` began.
 */
export async function lockWorkerHome(
  home: string,
  onLost: (error: Error) => void,
  options: { readonly waitMs?: number; readonly onWait?: (waitMs: number) => void } = {},
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
  return holdLockDirectory(
    lockPath,
    onLost,
    {
      taken: (waitedMs) => {
        const held =
          waitedMs > 0 ? `: its lock stayed taken for ${Math.round(waitedMs / 1_000)} s` : '';
        return new AasError('CONFIG_INVALID', `another aas worker is running on ${home}${held}`, {
          field: '--home',
          hint: `stop that worker first, or give this one a home of its own (--home or AAS_HOME; it then registers with an enrolment secret of its own). A worker killed without stopping frees ${lockPath} ${WORKER_HOME_LOCK_STALE_MS / 1_000} s after it died.`,
        });
      },
      unusable: (error) =>
        new AasError('CONFIG_INVALID', `cannot lock ${lockPath}: ${error.message}`, {
          field: 'AAS_HOME',
          hint: 'point AAS_HOME (or --home) at a directory you can write',
        }),
    },
    options,
  );
}
