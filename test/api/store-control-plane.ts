import type {
  ControlPlane,
  Identity,
  SubmittedJob,
  SubmitWarning,
  WorkerStatus,
} from '../../src/api/index.js';
import { AasError, type Clock } from '../../src/kernel/index.js';
import { parseJobSpec, submitRun } from '../../src/runner/index.js';
import { type EventBus, SessionRecorder, sessionEvent } from '../../src/sessions/index.js';
import type { RunRecord, Store } from '../../src/store/index.js';

/**
 * A real control plane for API tests, backed by the store only (no queue, no workers):
 * submitting records a queued session; cancelling a queued run ends it at once, cancelling a
 * running one flags it, as the product's queue does.
 */
export class StoreControlPlane implements ControlPlane {
  accepting_ = true;
  workerList: WorkerStatus[] = [];
  /** When set, every call throws this (to see how the API reports a failing dependency). */
  failWith: unknown = null;

  constructor(private readonly deps: { store: Store; clock: Clock; bus: EventBus }) {}

  async submitJob(job: unknown, identity: Identity): Promise<SubmittedJob> {
    if (this.failWith !== null) throw this.failWith;
    return { ...(await submitRun(this.deps, parseJobSpec(job), identity.name)), warnings: [] };
  }

  async jobWarnings(): Promise<SubmitWarning[]> {
    return [];
  }

  async cancelRun(
    runId: string,
    identity: Identity,
  ): Promise<{ run: RunRecord; outcome: 'cancelled' | 'cancel_requested' }> {
    if (this.failWith !== null) throw this.failWith;
    const run = await this.deps.store.getRun(runId);
    if (run === null) throw new AasError('NOT_FOUND', `no run ${runId}`, { field: 'runId' });
    const recorder = new SessionRecorder(this.deps, run.sessionId, identity.name);
    const at = this.deps.clock.nowIso();
    const by = identity.name;
    if (run.status === 'queued') {
      const cancelled = await recorder.updateRun(
        runId,
        {
          status: 'cancelled',
          reasonCode: 'CANCELLED',
          reasonDetail: `cancelled by ${by} before it started`,
          finishedAt: at,
          cancelRequestedAt: at,
          cancelRequestedBy: by,
        },
        [
          sessionEvent('run.cancel.requested', { runId, by, statusAtRequest: 'queued' }),
          sessionEvent('run.completed', {
            runId,
            status: 'cancelled',
            reasonCode: 'CANCELLED',
            detail: `cancelled by ${by} before it started`,
            patchSha256: null,
          }),
        ],
        { status: ['queued'], version: run.version },
      );
      return { run: cancelled, outcome: 'cancelled' };
    }
    if (run.status === 'running') {
      const flagged = await recorder.updateRun(
        runId,
        { cancelRequestedAt: at, cancelRequestedBy: by },
        [sessionEvent('run.cancel.requested', { runId, by, statusAtRequest: 'running' })],
        { status: ['running'], version: run.version },
      );
      return { run: flagged, outcome: 'cancel_requested' };
    }
    throw new AasError('CONFLICT', `run ${runId} has already finished as ${run.status}`, {
      runId,
      status: run.status,
    });
  }

  workers(): readonly WorkerStatus[] {
    return this.workerList;
  }

  accepting(): boolean {
    return this.accepting_;
  }
}
