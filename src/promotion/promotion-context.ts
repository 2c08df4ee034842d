import { AasError, canonicalJson, sha256Hex } from '../kernel/index.js';
import { type JobSpec, parseJobSpec } from '../runner/index.js';
import { type EventBus, verifyChain } from '../sessions/index.js';
import type {
  ApprovalRecord,
  RunRecord,
  SessionRecord,
  Store,
  StoredEvent,
} from '../store/index.js';
import { dataOf, type RecordedHistory, recordedHistory } from './history-agreement.js';

/** The slice of the resources bag that approvals and promotion read and write through. */
export interface PromotionStoreDeps {
  readonly store: Store;
  readonly clock: import('../kernel/index.js').Clock;
  readonly bus: EventBus;
}

/** Promotion rules of the run's effective policy, as the run recorded them. */
export interface RunPromotionPolicy {
  readonly approvals: number;
  readonly protectedBranches: readonly string[];
  readonly onBaseMoved: 'revalidate' | 'block';
}

export interface GateRecord {
  readonly name: string;
  readonly verdict: 'passed' | 'failed';
  readonly code: string | null;
}

/**
 * Everything the history says about a run that approval and promotion decide on. Read from the
 * store each time: nothing a caller sends (or a file on disk) stands in for the record.
 */
export interface PromotionContext {
  readonly run: RunRecord;
  readonly session: SessionRecord;
  readonly job: JobSpec;
  readonly policy: RunPromotionPolicy;
  /** SHA-256 of the canonical JSON of the effective policy the run was judged under. */
  readonly policyDigest: string;
  /** The final attempt's number (the one whose patch the run recorded), 0 when none. */
  readonly attemptNumber: number;
  readonly agentId: string;
  /** Identities that held the run's lease (workers, runner processes): they produced the patch. */
  readonly producers: readonly string[];
  /** Gate verdicts of the final attempt, in order. */
  readonly gates: readonly GateRecord[];
  readonly head: { readonly seq: number; readonly hash: string };
  readonly events: readonly StoredEvent[];
  /** The run's approvals as the table holds them, read before the events. */
  readonly approvals: readonly ApprovalRecord[];
  /** What the hash-chained events say of the requester, the patch and the approvals. */
  readonly history: RecordedHistory;
}

export async function loadPromotionContext(store: Store, runId: string): Promise<PromotionContext> {
  const run = await store.getRun(runId);
  if (run === null) {
    throw new AasError('NOT_FOUND', `no run ${runId}`, { field: 'runId', runId });
  }
  // Before the events: every approval read then has its approval.recorded among them.
  const approvals = await store.listApprovals({ runId });
  const { session, events } = await readVerifiedHistory(store, run.sessionId);
  const ofRun = events.filter((event) => dataOf(event).runId === runId);
  const job = parseJobSpec(run.jobSpec);

  let effective: unknown = null;
  let agentId = session.agent;
  for (const event of ofRun) {
    if (event.type === 'policy.resolved') {
      effective = dataOf(event).effective;
      const agent = dataOf(event).agentId;
      if (typeof agent === 'string') agentId = agent;
    }
  }
  const attempts = await store.listAttempts(runId);
  const attemptNumber = attempts.at(-1)?.number ?? 0;
  const finalAttempt = attempts.at(-1);
  if (finalAttempt !== undefined) agentId = finalAttempt.agentId;

  const producers = new Set<string>();
  for (const event of ofRun) {
    if (event.type === 'run.started') {
      const owner = dataOf(event).owner;
      if (typeof owner === 'string') producers.add(owner);
      producers.add(event.actor);
    }
    if (event.type === 'run.attempt.started' || event.type === 'agent.started') {
      producers.add(event.actor);
    }
  }
  const gates: GateRecord[] = [];
  for (const event of ofRun) {
    if (event.type !== 'gate.passed' && event.type !== 'gate.failed') continue;
    const data = dataOf(event);
    if (data.attempt !== attemptNumber) continue;
    gates.push({
      name: typeof data.gate === 'string' ? data.gate : '?',
      verdict: event.type === 'gate.passed' ? 'passed' : 'failed',
      code: typeof data.code === 'string' ? data.code : null,
    });
  }
  return {
    run,
    session,
    job,
    policy: promotionPolicyOf(effective),
    policyDigest: sha256Hex(canonicalJson(effective)),
    attemptNumber,
    agentId,
    producers: [...producers],
    gates,
    head: { seq: session.lastSeq, hash: session.lastHash },
    events,
    approvals,
    history: recordedHistory(events, runId),
  };
}

/**
 * The session and its events, the chain verified from genesis to the head the session records:
 * what approval and promotion decide on must be the history `aas audit verify` would accept.
 * Read again when events were appended between the two reads.
 */
async function readVerifiedHistory(
  store: Store,
  sessionId: string,
): Promise<{ session: SessionRecord; events: StoredEvent[] }> {
  for (let round = 0; ; round += 1) {
    const session = await store.getSession(sessionId);
    if (session === null) throw new AasError('NOT_FOUND', `no session ${sessionId}`);
    const events = await store.readEvents(sessionId);
    if ((events.at(-1)?.seq ?? 0) !== session.lastSeq && round < 4) continue;
    const verdict = verifyChain(session, events);
    if (verdict.firstProblem !== null) {
      throw new AasError(
        'AUDIT_CHAIN_BROKEN',
        `session ${sessionId}'s history does not verify at seq ${verdict.firstProblem.seq}: ${verdict.firstProblem.detail}`,
        {
          sessionId,
          hint: `the database was changed outside AAS: see aas audit verify ${sessionId}, and restore it from a backup before approving or promoting its runs`,
        },
      );
    }
    return { session, events };
  }
}

/**
 * The promotion rules of a recorded effective policy. A run without one (it never got as far
 * as resolving its policy) gets the strictest reading: approvals it cannot have.
 */
function promotionPolicyOf(effective: unknown): RunPromotionPolicy {
  const promotion =
    typeof effective === 'object' && effective !== null
      ? (effective as { promotion?: Record<string, unknown> }).promotion
      : undefined;
  const approvals = promotion?.approvals;
  const branches = promotion?.protectedBranches;
  return {
    approvals: typeof approvals === 'number' && Number.isInteger(approvals) ? approvals : 1,
    protectedBranches: Array.isArray(branches)
      ? branches.filter((b): b is string => typeof b === 'string')
      : [],
    onBaseMoved: promotion?.onBaseMoved === 'revalidate' ? 'revalidate' : 'block',
  };
}
