import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError, normaliseError } from '../kernel/index.js';

/**
 * How long a worker's lock stays taken once its holder stops refreshing it: a worker killed
 * with SIGKILL frees its home this long after it died. The holder refreshes it every half.
 */
export const WORKER_HOME_LOCK_STALE_MS = 10_000;

/**
 * How long a start waits for a taken lock: long enough for a holder that died a moment ago
 * (a supervisor restarting a killed worker at once) to go stale, plus one refresh period.
 */
export const WORKER_HOME_LOCK_WAIT_MS = WORKER_HOME_LOCK_STALE_MS + WORKER_HOME_LOCK_STALE_MS / 2;

/** Pause between tries while waiting for a taken lock. */
const RETRY_MS = 1_000;

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
 * instead of needing a hand to remove it. A taken lock is waited for up to `waitMs` (a holder
 * killed a moment ago frees it by then), with `onWait` told once. `onLost` is called when the
 * lock turned out not to be this holder's any more (its directory was removed or replaced, or
 * refreshing it kept failing past the stale time): the holder must stop claiming. Never after
 * `release` began.
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
  // Loaded here only: the library removes its locks at exit through process signal hooks,
  // which no other command needs.
  const lockfile = await import('proper-lockfile');
  const waitMs = options.waitMs ?? WORKER_HOME_LOCK_WAIT_MS;
  let releasing = false;
  const attempt = (retries: number) =>
    lockfile.lock(dir, {
      lockfilePath: lockPath,
      realpath: false,
      stale: WORKER_HOME_LOCK_STALE_MS,
      retries: { retries, factor: 1, minTimeout: RETRY_MS, maxTimeout: RETRY_MS },
      // proper-lockfile may report a refresh that was in flight when release began.
      onCompromised: (error) => {
        if (!releasing) onLost(error);
      },
    });
  let release: () => Promise<void>;
  let waited = false;
  try {
    try {
      release = await attempt(0);
    } catch (thrown) {
      if (!isLocked(thrown) || waitMs < RETRY_MS) throw thrown;
      options.onWait?.(waitMs);
      waited = true;
      release = await attempt(Math.floor(waitMs / RETRY_MS));
    }
  } catch (thrown) {
    const error = normaliseError(thrown);
    if (isLocked(thrown)) {
      const held = waited ? `: its lock stayed taken for ${Math.round(waitMs / 1_000)} s` : '';
      throw new AasError('CONFIG_INVALID', `another aas worker is running on ${home}${held}`, {
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
      releasing = true;
      // A lock lost already cannot be released: there is nothing of ours left to give back.
      released ??= release().catch(() => undefined);
      return released;
    },
  };
}

function isLocked(thrown: unknown): boolean {
  return (thrown as { code?: unknown } | null)?.code === 'ELOCKED';
}
