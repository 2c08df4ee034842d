import { z } from 'zod';
import { AasError, type Clock, type Logger } from '../kernel/index.js';
import type { RunStore } from '../runner/index.js';
import type {
  AttemptRecord,
  LeaseRenewal,
  ModelSpend,
  ModelSpendScope,
  NewEvent,
  NewRunArtifact,
  RunArtifactRecord,
  RunRecord,
  StoredEvent,
} from '../store/index.js';
import type { ControlPlaneLink } from './control-plane-link.js';
import type { LeaseOp } from './lease-ops.js';
import { type HeldLeaseView, sendWhileHeld } from './send-while-held.js';

const StoredEventReply = z.looseObject({
  sessionId: z.string(),
  seq: z.number().int(),
  type: z.string(),
  at: z.string(),
  actor: z.string(),
  data: z.unknown(),
  prevHash: z.string(),
  hash: z.string(),
});
const RunReply = z.looseObject({
  id: z.string(),
  sessionId: z.string(),
  status: z.string(),
  jobSpec: z.unknown(),
  fencingToken: z.number().int(),
  claimCount: z.number().int(),
  repo: z.string(),
});
const AttemptReply = z.looseObject({ id: z.string(), runId: z.string(), number: z.number().int() });
const SpendReply = z.object({
  calls: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  cachedInputTokens: z.number(),
  costUsd: z.number(),
});
const EventsReply = z.looseObject({ events: z.array(StoredEventReply) });

/**
 * The runner's storage on a remote worker: every operation goes to the control plane under the
 * claim's fencing token, writes numbered so a retry never applies twice. A request the control
 * plane does not answer is retried with backoff for as long as the lease may still be held (and
 * within its retry budget); once it would have lapsed, or the run was stopped here, the run is
 * treated as lost (LEASE_FENCED): nothing more is sent, so a worker that was cut off never
 * reports over whoever holds the run now (sendWhileHeld).
 */
export class RemoteRunStore implements RunStore {
  #writeSeq = 0;

  constructor(
    private readonly deps: {
      readonly link: ControlPlaneLink;
      readonly clock: Clock;
      readonly log: Logger;
      /** Sleeps `ms`, ending early when `signal` aborts (injected so tests need not wait). */
      readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
      /** Jitter of the waits between retries (tests fix it); Math.random otherwise. */
      readonly random?: () => number;
    },
    private readonly lease: HeldLeaseView & {
      readonly sessionId: string;
      readonly fencingToken: number;
    },
  ) {}

  async appendEvents(sessionId: string, events: readonly NewEvent[]): Promise<StoredEvent[]> {
    this.#ownSession(sessionId);
    if (events.length === 0) return [];
    const reply = await this.#write({ op: 'appendEvents', writeSeq: 0, events: [...events] });
    return EventsReply.parse(reply).events as StoredEvent[];
  }

  async updateRun(
    input: Parameters<RunStore['updateRun']>[0],
  ): Promise<{ run: RunRecord; events: StoredEvent[] }> {
    this.#ownRun(input.runId);
    // Only the control plane's sweep ends attempts with their run; a runner ends its own.
    if ((input.finishAttempts?.length ?? 0) > 0) {
      throw new AasError('INTERNAL', 'a remote worker does not end attempts with their run');
    }
    const reply = await this.#write({
      op: 'updateRun',
      writeSeq: 0,
      changes: input.changes,
      events: [...input.events],
      ...(input.expect?.status === undefined ? {} : { expectStatus: [...input.expect.status] }),
    });
    const parsed = z.looseObject({ run: RunReply, events: z.array(StoredEventReply) }).parse(reply);
    return { run: parsed.run as unknown as RunRecord, events: parsed.events as StoredEvent[] };
  }

  async createAttempt(input: Parameters<RunStore['createAttempt']>[0]): Promise<StoredEvent[]> {
    this.#ownRun(input.attempt.runId);
    const { runId: _runId, ...attempt } = input.attempt;
    const reply = await this.#write({
      op: 'createAttempt',
      writeSeq: 0,
      attempt,
      events: [...input.events],
    });
    return EventsReply.parse(reply).events as StoredEvent[];
  }

  async finishAttempt(input: Parameters<RunStore['finishAttempt']>[0]): Promise<StoredEvent[]> {
    if (input.status !== 'succeeded' && input.status !== 'failed' && input.status !== 'blocked') {
      throw new AasError('INVALID_ARGUMENT', `an attempt cannot finish ${input.status}`, {
        field: 'status',
      });
    }
    const reply = await this.#write({
      op: 'finishAttempt',
      writeSeq: 0,
      attemptId: input.attemptId,
      status: input.status,
      reasonCode: input.reasonCode,
      finishedAt: input.finishedAt,
      detail: input.detail,
      events: [...input.events],
    });
    return EventsReply.parse(reply).events as StoredEvent[];
  }

  async getRun(id: string): Promise<RunRecord | null> {
    if (id !== this.lease.runId) return null;
    const reply = await this.#call({ op: 'getRun' });
    return z.looseObject({ run: RunReply }).parse(reply).run as unknown as RunRecord;
  }

  async listAttempts(runId: string): Promise<AttemptRecord[]> {
    this.#ownRun(runId);
    const reply = await this.#call({ op: 'listAttempts' });
    return z.looseObject({ attempts: z.array(AttemptReply) }).parse(reply)
      .attempts as unknown as AttemptRecord[];
  }

  async modelSpend(scope: ModelSpendScope): Promise<ModelSpend> {
    let wire: Extract<LeaseOp, { op: 'modelSpend' }>['scope'];
    if ('runId' in scope) {
      this.#ownRun(scope.runId);
      wire = 'run';
    } else if ('sessionId' in scope) {
      this.#ownSession(scope.sessionId);
      wire = 'session';
    } else {
      wire = { fromIso: scope.fromIso, toIso: scope.toIso };
    }
    const reply = await this.#call({ op: 'modelSpend', scope: wire });
    return z.looseObject({ spend: SpendReply }).parse(reply).spend;
  }

  async putRunArtifact(artifact: NewRunArtifact): Promise<RunArtifactRecord> {
    this.#ownRun(artifact.runId);
    await this.#retrying(`upload ${artifact.name}`, () =>
      this.deps.link.putRunArtifact(this.lease.runId, {
        fencingToken: this.lease.fencingToken,
        name: artifact.name,
        sha256: artifact.sha256,
        originalBytes: artifact.originalBytes,
        content: artifact.content,
      }),
    );
    return {
      runId: artifact.runId,
      name: artifact.name,
      sha256: artifact.sha256,
      bytes: artifact.content.length,
      originalBytes: artifact.originalBytes,
      createdAt: artifact.createdAt,
    };
  }

  /** The worker renews all its leases with one heartbeat (see RemoteWorkerAgent), never per run. */
  async renewRunLease(): Promise<LeaseRenewal> {
    throw new AasError('INTERNAL', 'a remote worker renews its leases through its heartbeat');
  }

  async recordApproval(): Promise<never> {
    throw new AasError('FORBIDDEN', 'approvals are recorded by the control plane only');
  }

  async recordPromotionStep(): Promise<never> {
    throw new AasError('FORBIDDEN', 'promotion runs on the control plane only');
  }

  /** A numbered write: the number is taken once, so every retry of it is the same write. */
  #write(op: Extract<LeaseOp, { writeSeq: number }>): Promise<unknown> {
    this.#writeSeq += 1;
    return this.#call({ ...op, writeSeq: this.#writeSeq });
  }

  #call(op: LeaseOp): Promise<unknown> {
    return this.#retrying(op.op, () =>
      this.deps.link.leaseOp(this.lease.runId, this.lease.fencingToken, op),
    );
  }

  #retrying<T>(what: string, send: () => Promise<T>): Promise<T> {
    return sendWhileHeld(this.deps, this.lease, what, send);
  }

  #ownRun(runId: string): void {
    if (runId !== this.lease.runId) {
      throw new AasError('FORBIDDEN', `this worker holds run ${this.lease.runId}, not ${runId}`);
    }
  }

  #ownSession(sessionId: string): void {
    if (sessionId !== this.lease.sessionId) {
      throw new AasError(
        'FORBIDDEN',
        `this worker holds a run of session ${this.lease.sessionId}, not ${sessionId}`,
      );
    }
  }
}
