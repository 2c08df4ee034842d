import { AasError, isCode } from '../kernel/index.js';
import type {
  AttemptRecord,
  ModelSpend,
  NewEvent,
  RemoteWorkerRecord,
  RunChanges,
  RunRecord,
  RunStatus,
  Store,
  StoredEvent,
} from '../store/index.js';
import { isDuplicateWrite } from '../store/index.js';

/**
 * What a remote worker's runner writes and reads on the control plane while it holds a run.
 * Each write is numbered (`writeSeq`, 1, 2, … per claim) and applied at most once, so a
 * request retried after a lost answer does nothing twice; each is fenced by the claim's token.
 */
export type LeaseOp =
  | { readonly op: 'appendEvents'; readonly writeSeq: number; readonly events: readonly NewEvent[] }
  | {
      readonly op: 'updateRun';
      readonly writeSeq: number;
      readonly changes: RunChanges;
      readonly events: readonly NewEvent[];
      readonly expectStatus?: readonly RunStatus[];
    }
  | {
      readonly op: 'createAttempt';
      readonly writeSeq: number;
      readonly attempt: {
        readonly id: string;
        readonly number: number;
        readonly agentId: string;
        readonly startedAt: string;
      };
      readonly events: readonly NewEvent[];
    }
  | {
      readonly op: 'finishAttempt';
      readonly writeSeq: number;
      readonly attemptId: string;
      readonly status: 'succeeded' | 'failed' | 'blocked';
      readonly reasonCode: string | null;
      readonly finishedAt: string;
      readonly detail: unknown;
      readonly events: readonly NewEvent[];
    }
  | { readonly op: 'getRun' }
  | { readonly op: 'listAttempts' }
  | {
      readonly op: 'modelSpend';
      readonly scope: 'run' | 'session' | { readonly fromIso: string; readonly toIso: string };
    };

export type LeaseOpResult =
  | {
      readonly op: 'appendEvents' | 'createAttempt' | 'finishAttempt';
      readonly duplicate: boolean;
      readonly events: StoredEvent[];
    }
  | {
      readonly op: 'updateRun';
      readonly duplicate: boolean;
      readonly run: RunRecord;
      readonly events: StoredEvent[];
    }
  | { readonly op: 'getRun'; readonly run: RunRecord }
  | { readonly op: 'listAttempts'; readonly attempts: AttemptRecord[] }
  | { readonly op: 'modelSpend'; readonly spend: ModelSpend };

/**
 * Events a runner records. A worker writes only these: the claim, requeue, cancel request,
 * approvals and promotion are the control plane's to record.
 */
export const RUNNER_EVENT_TYPES: ReadonlySet<string> = new Set([
  'run.base.resolved',
  'policy.resolved',
  'sandbox.selected',
  'sandbox.degraded',
  'run.attempt.started',
  'workspace.created',
  'network.allowed',
  'network.refused',
  'network.summary',
  'agent.started',
  'agent.event',
  'agent.finished',
  'agent.usage',
  'patch.computed',
  'policy.denied',
  'gate.passed',
  'gate.failed',
  'run.attempt.finished',
  'run.retry.scheduled',
  'run.fallback.started',
  'artifact.stored',
  'budget.exceeded',
  'workspace.removed',
  'workspace.kept',
  'lease.fenced',
  'run.completed',
]);

/** The run fields a worker may set: where its base is, and how the run ended. */
const WORKER_RUN_FIELDS: ReadonlySet<string> = new Set([
  'baseRef',
  'baseCommit',
  'status',
  'reasonCode',
  'reasonDetail',
  'finishedAt',
  'patchSha256',
  'summary',
  'leaseOwner',
  'leaseExpiresAt',
]);

/** How a runner ends a run (see runStatusFor); promotion states are the control plane's. */
const WORKER_FINAL_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>([
  'ready_for_promotion',
  'human_review',
  'blocked',
  'failed',
  'cancelled',
]);

/**
 * Applies one lease operation of `worker` on `runId` under `fencingToken`. Reads are of that run
 * only (its session and repository for spend); writes are fenced, numbered, limited to runner
 * events and to the run fields a runner sets, and a final report naming a patch is accepted
 * only when that patch was uploaded first, with the digest it names.
 */
export async function applyLeaseOp(
  store: Store,
  worker: RemoteWorkerRecord,
  runId: string,
  fencingToken: number,
  op: LeaseOp,
): Promise<LeaseOpResult> {
  const run = await store.getRun(runId);
  const isRead = op.op === 'getRun' || op.op === 'listAttempts' || op.op === 'modelSpend';
  // Writes are fenced by the store itself (after their repeat check, so a retried final report
  // is a repeat, not a lost lease); a read needs the lease too: a worker cannot learn about
  // runs it does not hold.
  if (
    run === null ||
    (isRead && (run.leaseOwner !== worker.id || run.fencingToken !== fencingToken))
  ) {
    throw new AasError('LEASE_FENCED', `run ${runId} is not leased to worker ${worker.name}`, {
      runId,
    });
  }
  const fence = { runId, leaseOwner: worker.id, fencingToken };
  const events = 'events' in op ? checkedEvents(op.events, worker) : [];
  try {
    switch (op.op) {
      case 'getRun':
        return { op: 'getRun', run };
      case 'listAttempts':
        return { op: 'listAttempts', attempts: await store.listAttempts(runId) };
      case 'modelSpend': {
        const scope =
          op.scope === 'run'
            ? { runId }
            : op.scope === 'session'
              ? { sessionId: run.sessionId }
              : { repo: run.repo, fromIso: op.scope.fromIso, toIso: op.scope.toIso };
        return { op: 'modelSpend', spend: await store.modelSpend(scope) };
      }
      case 'appendEvents':
        return {
          op: op.op,
          duplicate: false,
          events: await store.appendEvents(run.sessionId, events, {
            ...fence,
            writeSeq: op.writeSeq,
          }),
        };
      case 'createAttempt':
        return {
          op: op.op,
          duplicate: false,
          events: await store.createAttempt({
            attempt: { ...op.attempt, runId },
            events,
            fence: { ...fence, writeSeq: op.writeSeq },
          }),
        };
      case 'finishAttempt':
        if (op.reasonCode !== null && !isCode(op.reasonCode)) {
          throw new AasError('INVALID_ARGUMENT', `${op.reasonCode} is not a reason code`, {
            field: 'reasonCode',
          });
        }
        return {
          op: op.op,
          duplicate: false,
          events: await store.finishAttempt({
            attemptId: op.attemptId,
            status: op.status,
            reasonCode: op.reasonCode,
            finishedAt: op.finishedAt,
            detail: op.detail,
            events,
            fence: { ...fence, writeSeq: op.writeSeq },
          }),
        };
      case 'updateRun': {
        await checkRunChanges(store, run, op.changes);
        const updated = await store.updateRun({
          runId,
          changes: op.changes,
          events,
          // A runner changes only a running run, whatever the worker asks: once ended (and
          // perhaps approved or promoted) the run is the control plane's alone.
          expect: { leaseOwner: worker.id, fencingToken, status: ['running'] },
          writeSeq: op.writeSeq,
        });
        return { op: 'updateRun', duplicate: false, ...updated };
      }
    }
  } catch (thrown) {
    if (!isDuplicateWrite(thrown)) throw thrown;
    // Applied before; the worker never saw the answer. Nothing is written again.
    if (op.op === 'updateRun') {
      return {
        op: 'updateRun',
        duplicate: true,
        run: (await store.getRun(runId)) ?? run,
        events: [],
      };
    }
    if (op.op === 'appendEvents' || op.op === 'createAttempt' || op.op === 'finishAttempt') {
      return { op: op.op, duplicate: true, events: [] };
    }
    throw thrown;
  }
}

/** Runner events only, recorded as the worker's own (whatever actor the request named). */
function checkedEvents(events: readonly NewEvent[], worker: RemoteWorkerRecord): NewEvent[] {
  return events.map((event, index) => {
    if (!RUNNER_EVENT_TYPES.has(event.type)) {
      throw new AasError(
        'FORBIDDEN',
        `a worker cannot record ${JSON.stringify(event.type)} events`,
        { field: `events.${index}.type` },
      );
    }
    return { ...event, actor: worker.id };
  });
}

async function checkRunChanges(store: Store, run: RunRecord, changes: RunChanges): Promise<void> {
  const runId = run.id;
  for (const [field, value] of Object.entries(changes)) {
    if (value !== undefined && !WORKER_RUN_FIELDS.has(field)) {
      throw new AasError('FORBIDDEN', `a worker cannot change a run's ${field}`, {
        field: `changes.${field}`,
      });
    }
  }
  // A status change is the final report: it hands the lease back in the same write, so a
  // worker cannot end a run and keep holding it (and change it again later).
  const final = changes.status !== undefined;
  for (const field of ['leaseOwner', 'leaseExpiresAt'] as const) {
    if (final ? changes[field] !== null : changes[field] !== undefined) {
      throw new AasError(
        'FORBIDDEN',
        `a worker clears ${field} with its final report, and only then`,
        { field: `changes.${field}` },
      );
    }
  }
  if (changes.status !== undefined && !WORKER_FINAL_STATUSES.has(changes.status)) {
    throw new AasError('FORBIDDEN', `a worker cannot set a run ${changes.status}`, {
      field: 'changes.status',
    });
  }
  if (
    changes.reasonCode !== undefined &&
    changes.reasonCode !== null &&
    !isCode(changes.reasonCode)
  ) {
    throw new AasError('INVALID_ARGUMENT', `${changes.reasonCode} is not a reason code`, {
      field: 'changes.reasonCode',
    });
  }
  // The base is resolved once: a commit id, set while none is recorded (or repeated as is),
  // under the ref the job named. A worker cannot point a run, or a later claim's base pack, at
  // anything else in the repository.
  if (changes.baseCommit !== undefined) {
    if (changes.baseCommit === null || !/^[0-9a-f]{40}$/.test(changes.baseCommit)) {
      throw new AasError('INVALID_ARGUMENT', 'a base commit is a full commit id', {
        field: 'changes.baseCommit',
      });
    }
    if (run.baseCommit !== null && run.baseCommit !== changes.baseCommit) {
      throw new AasError('FORBIDDEN', `run ${runId}'s base is ${run.baseCommit} already`, {
        field: 'changes.baseCommit',
      });
    }
  }
  if (changes.baseRef !== undefined) {
    const asked = jobBaseRef(run.jobSpec);
    if (changes.baseRef !== asked) {
      throw new AasError(
        'FORBIDDEN',
        `run ${runId}'s job names base ${asked}, not ${changes.baseRef}`,
        {
          field: 'changes.baseRef',
        },
      );
    }
  }
  if (changes.status === 'ready_for_promotion' && !changes.patchSha256) {
    throw new AasError('INVALID_ARGUMENT', 'a run ready for promotion needs its patch digest', {
      field: 'changes.patchSha256',
    });
  }
  if (changes.patchSha256 !== undefined && changes.patchSha256 !== null) {
    // The digest on record must be of bytes the control plane holds: a worker cannot name a
    // patch it did not upload, or one other than what it uploaded.
    const stored = await store.getRunArtifact(runId, 'patch');
    if (stored === null || stored.artifact.sha256 !== changes.patchSha256) {
      throw new AasError(
        'PATCH_DIGEST_MISMATCH',
        `run ${runId} has no uploaded patch with digest ${changes.patchSha256}`,
        { field: 'changes.patchSha256', hint: 'upload the patch before the final report' },
      );
    }
  }
}

/** The base ref the run's job names (HEAD when none), as the runner records it. */
function jobBaseRef(jobSpec: unknown): string {
  const ref =
    typeof jobSpec === 'object' && jobSpec !== null && 'baseRef' in jobSpec
      ? jobSpec.baseRef
      : undefined;
  return typeof ref === 'string' && ref !== '' ? ref : 'HEAD';
}
