import { AasError, type Clock, type Logger, normaliseError } from '../kernel/index.js';
import { retryBackoffMs } from '../queue/index.js';
import type { ControlPlaneLink } from './control-plane-link.js';
import { type LeaseDeadline, leaseLeftMs } from './lease-deadline.js';

/**
 * Waits between retries of a request the control plane did not answer: 250 ms doubling to 5 s,
 * each drawn in [step/2, step] (retryBackoffMs), so that the workers a restarted control plane
 * lost together do not all come back at the same instant.
 */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;
/**
 * A request is given up on its budget only after this many failures as well: the budget runs
 * while tries are in flight, and a transfer that times out once (a large patch, a base pack
 * queued behind others) can take minutes per try.
 */
const MIN_FAILURES_TO_GIVE_UP = 5;

/** A held lease as a request sent under it sees it. */
export interface HeldLeaseView {
  readonly runId: string;
  readonly deadline: () => LeaseDeadline;
  /** Aborted once the run is stopped here: its lease was lost or lapsed, or the worker stops now. */
  readonly stopped: AbortSignal;
  /**
   * How long one request may keep failing before it is given up although the lease still
   * holds. Heartbeats travel separately and keep moving the deadline, so the deadline alone
   * would let a request that always fails (a 500 on every try, a transfer that always times
   * out) be retried for as long as the worker lives, holding the run. Counted from the first
   * failure, and only once a few tries failed (MIN_FAILURES_TO_GIVE_UP).
   */
  readonly retryBudgetMs: number;
}

export interface SendDeps {
  readonly link: Pick<ControlPlaneLink, 'url' | 'isTransient'>;
  readonly clock: Clock;
  readonly log: Logger;
  /** Sleeps `ms`, ending early when `signal` aborts. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter of the waits between retries (tests fix it); Math.random otherwise. */
  readonly random?: () => number;
}

/**
 * Sends a request under a held lease, retrying what the control plane did not answer with
 * jittered backoff. Nothing is sent once the run was stopped here or its lease would have lapsed
 * (LEASE_FENCED): a worker that lost its lease, or was cut off past it, reports nothing over
 * whoever holds the run now, as README's "Losing the control plane" promises. A request that
 * keeps failing for `retryBudgetMs` is given up with its last error.
 */
export async function sendWhileHeld<T>(
  deps: SendDeps,
  lease: HeldLeaseView,
  what: string,
  send: () => Promise<T>,
): Promise<T> {
  let failures = 0;
  let firstFailureMs: number | undefined;
  for (;;) {
    refuseUnlessHeld(deps, lease);
    try {
      return await send();
    } catch (thrown) {
      const error = normaliseError(thrown);
      if (!deps.link.isTransient(error)) throw error;
      const nowMs = deps.clock.elapsedMs();
      firstFailureMs ??= nowMs;
      failures += 1;
      if (failures >= MIN_FAILURES_TO_GIVE_UP && nowMs - firstFailureMs >= lease.retryBudgetMs) {
        throw new AasError(
          error.code,
          `${what} for run ${lease.runId} failed ${failures} times over ${nowMs - firstFailureMs} ms; given up (last: ${error.message})`,
          { runId: lease.runId, lastError: error.message },
        );
      }
      const leftMs = leaseLeftMs(lease.deadline(), deps.clock);
      if (leftMs <= 0) throw lapsed(deps, lease, error);
      const waitMs = Math.min(
        retryBackoffMs(failures, { baseMs: RETRY_FIRST_MS, maxMs: RETRY_MAX_MS }, deps.random),
        leftMs,
      );
      deps.log.warn(
        { runId: lease.runId, op: what, err: error.message, retryInMs: waitMs },
        'control plane unreachable: retrying',
      );
      await deps.sleep(waitMs, lease.stopped).catch(() => undefined);
    }
  }
}

function refuseUnlessHeld(deps: SendDeps, lease: HeldLeaseView): void {
  if (lease.stopped.aborted) {
    throw new AasError(
      'LEASE_FENCED',
      `run ${lease.runId} was stopped on this worker (its lease was lost or lapsed, or the worker is stopping now); nothing more is sent`,
      { runId: lease.runId },
    );
  }
  if (leaseLeftMs(lease.deadline(), deps.clock) <= 0) throw lapsed(deps, lease);
}

function lapsed(deps: SendDeps, lease: HeldLeaseView, last?: AasError): AasError {
  return new AasError(
    'LEASE_FENCED',
    `the lease of run ${lease.runId} lapsed by this worker's reckoning before the control plane at ${deps.link.url} answered; its work is abandoned`,
    { runId: lease.runId, ...(last === undefined ? {} : { lastError: last.message }) },
  );
}
