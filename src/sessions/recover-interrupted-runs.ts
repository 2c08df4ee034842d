import { type Clock, isAasError } from '../kernel/index.js';
import type { Store } from '../store/index.js';
import type { EventBus } from './event-bus.js';
import { SessionRecorder, sessionEvent } from './session-recorder.js';

/**
 * After a crash, every run whose holder stopped renewing its lease (or that a process reserved
 * and never started) ends explicitly as
 * `failed / INTERRUPTED` with an event saying so, instead of staying `running` forever.
 * Safe to call at every start and from several processes: the update expects the exact
 * version read, so two recoverers never both record it.
 */
export async function recoverInterruptedRuns(deps: {
  store: Store;
  clock: Clock;
  bus: EventBus;
  actor: string;
}): Promise<string[]> {
  const expired = await deps.store.listRunsWithExpiredLease(deps.clock.nowIso());
  const recovered: string[] = [];
  for (const run of expired) {
    const recorder = new SessionRecorder(deps, run.sessionId, deps.actor);
    const detail =
      run.status === 'queued'
        ? `reserved by ${run.leaseOwner ?? 'nobody'}, which stopped before starting it (reservation expired at ${run.leaseExpiresAt ?? '?'})`
        : `lease held by ${run.leaseOwner ?? 'nobody'} expired at ${run.leaseExpiresAt ?? '?'} before the run finished`;
    try {
      await recorder.updateRun(
        run.id,
        {
          status: 'failed',
          reasonCode: 'INTERRUPTED',
          reasonDetail: detail,
          finishedAt: deps.clock.nowIso(),
          leaseOwner: null,
          leaseExpiresAt: null,
        },
        [
          sessionEvent('run.interrupted', { runId: run.id, previousOwner: run.leaseOwner, detail }),
          sessionEvent('run.completed', {
            runId: run.id,
            status: 'failed',
            reasonCode: 'INTERRUPTED',
            detail,
            patchSha256: null,
          }),
        ],
        { status: [run.status], version: run.version },
      );
      recovered.push(run.id);
    } catch (thrown) {
      // Another recoverer (or the owner, renewing just in time) changed the run first: fine.
      // Anything else (the store is down) is not recovery's to hide.
      if (!isAasError(thrown) || thrown.code !== 'CONFLICT') throw thrown;
    }
  }
  return recovered;
}
