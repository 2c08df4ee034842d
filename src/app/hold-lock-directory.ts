import type { AasError } from '../kernel/index.js';

/**
 * How long a lock stays taken once its holder stops refreshing it: a holder killed with SIGKILL
 * frees it this long after it died. The holder refreshes it every half.
 */
export const LOCK_STALE_MS = 10_000;

/**
 * How long a start waits for a taken lock: long enough for a holder that died a moment ago
 * (a supervisor restarting a killed process at once) to go stale, plus one refresh period.
 */
export const LOCK_WAIT_MS = LOCK_STALE_MS + LOCK_STALE_MS / 2;

/** Pause between tries while waiting for a taken lock. */
const RETRY_MS = 1_000;

export interface HeldLock {
  /** Gives the lock back; safe to call more than once. */
  release(): Promise<void>;
}

/** The errors a refused lock is reported with: each holder names what it protects. */
export interface LockRefusals {
  /** Another holder has it; `waitedMs` is how long this start waited for it (0: not at all). */
  taken(waitedMs: number): AasError | Promise<AasError>;
  /** The lock could not be tried at all (an unwritable directory, say). */
  unusable(error: Error): AasError;
}

export interface HoldLockOptions {
  readonly waitMs?: number;
  /** Told once, when the lock is taken and this start begins to wait for it. */
  readonly onWait?: (waitMs: number) => void | Promise<void>;
}

/**
 * Takes the lock directory `lockPath` (created atomically by mkdir; its parent must exist) for
 * this process alone. Its holder refreshes the directory's mtime, so it works wherever the
 * directory is mounted, and a dead holder's lock goes stale instead of needing a hand to remove
 * it. A taken lock is waited for up to `waitMs` (a holder killed a moment ago frees it by then).
 * `onLost` is called when the lock turned out not to be this holder's any more (its directory
 * was removed or replaced, or refreshing it kept failing past the stale time): the holder must
 * stop acting as its owner. Never after `release` began.
 */
export async function holdLockDirectory(
  lockPath: string,
  onLost: (error: Error) => void,
  refusals: LockRefusals,
  options: HoldLockOptions = {},
): Promise<HeldLock> {
  // Loaded here only: the library removes its locks at exit through process signal hooks,
  // which no other command needs.
  const lockfile = await import('proper-lockfile');
  const waitMs = options.waitMs ?? LOCK_WAIT_MS;
  let releasing = false;
  const attempt = (retries: number) =>
    lockfile.lock(lockPath, {
      lockfilePath: lockPath,
      realpath: false,
      stale: LOCK_STALE_MS,
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
      await options.onWait?.(waitMs);
      waited = true;
      release = await attempt(Math.floor(waitMs / RETRY_MS));
    }
  } catch (thrown) {
    if (isLocked(thrown)) throw await refusals.taken(waited ? waitMs : 0);
    throw refusals.unusable(thrown instanceof Error ? thrown : new Error(String(thrown)));
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
