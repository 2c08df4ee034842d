/**
 * Every event type AAS records, with its payload. The append-only log and the in-process bus
 * share this one map, so a payload cannot drift between what is stored and what is emitted.
 * Payloads are plain JSON. Names are namespaced `<area>.<what>`.
 */
export interface GateVerdictData {
  readonly runId: string;
  readonly attempt: number;
  readonly gate: string;
  readonly code: string;
  readonly detail: string;
  readonly durationMs: number;
  /** Paths, limits or outputs that explain the verdict. */
  readonly evidence?: unknown;
}

export interface NetworkDecisionData {
  readonly runId: string;
  readonly attempt: number;
  readonly phase: 'agent' | 'validators';
  readonly method: string;
  readonly host: string;
  readonly port: number | null;
  readonly reason: string | null;
}

export interface SessionEventMap {
  'session.created': {
    readonly task: string;
    readonly repo: string;
    readonly agent: string;
    readonly requestedBy: string;
    readonly labels: readonly string[];
  };
  'run.queued': { readonly runId: string; readonly jobSpec: unknown };
  /**
   * The session was created by a schedule: at its slot by the scheduler, or now because someone
   * asked (`manual`). Recorded in the same transaction as the fire, so a slot has one session.
   */
  'schedule.fired': {
    readonly scheduleId: string;
    readonly scheduleName: string;
    readonly runId: string;
    /** The slot fired (a manual fire's slot is the instant it was asked for). */
    readonly slotAt: string;
    readonly trigger: 'schedule' | 'manual';
    /** How long after its slot this fire happened. */
    readonly lateMs: number;
    /** Earlier slots not run on their own: `run_once` after downtime runs once for them all. */
    readonly missedSlots: number;
  };
  'run.started': {
    readonly runId: string;
    readonly owner: string;
    readonly leaseExpiresAt: string;
    /** The claim's fencing token: every later write of this holder carries it. */
    readonly fencingToken?: number;
    /** Which claim of the run this is (1 = first), out of `maxClaims`. */
    readonly claim?: number;
    readonly maxClaims?: number;
  };
  /** An interrupted run goes back to the queue, claimable again from `notBefore`. */
  'run.requeued': {
    readonly runId: string;
    readonly reason: string;
    readonly notBefore: string;
    readonly claimsUsed: number;
    readonly maxClaims: number;
  };
  'run.cancel.requested': {
    readonly runId: string;
    readonly by: string;
    /** `queued`: cancelled at once; `running`: the holder stops at its next heartbeat. */
    readonly statusAtRequest: string;
  };
  /** A write (or a report) from a holder whose lease was taken away; nothing of it was kept. */
  'lease.fenced': {
    readonly runId: string;
    readonly staleOwner: string;
    readonly staleFencingToken: number | null;
    readonly currentOwner: string | null;
    readonly currentFencingToken: number | null;
    readonly rejected: string;
  };
  'run.base.resolved': {
    readonly runId: string;
    readonly repoRoot: string;
    readonly baseRef: string;
    readonly baseCommit: string;
    readonly snapshot: boolean;
    readonly dirtyPaths: readonly string[];
  };
  'policy.resolved': {
    readonly runId: string;
    readonly agentId: string;
    readonly layers: readonly { readonly name: string; readonly source: string }[];
    readonly effective: unknown;
  };
  'sandbox.selected': {
    readonly runId: string;
    readonly backend: string;
    readonly isolating: boolean;
    /** `seccomp` when the deny-list of system calls applies (ptrace, bpf, keyring, io_uring…). */
    readonly syscallFilter?: string;
    readonly agentId?: string;
    /** The policy's `sandbox` value that led to this choice. */
    readonly mode?: string;
    /** How the process cap, CPU and memory limits are enforced on this host (cgroup, rlimit, none). */
    readonly limits?: {
      readonly processCap: string;
      readonly cpu: string;
      /** Absent in runs recorded before memory was capped. */
      readonly memory?: string;
    };
  };
  'sandbox.degraded': {
    readonly runId: string;
    readonly backend: string;
    readonly reason: string;
    readonly agentId?: string;
  };
  'run.attempt.started': {
    readonly runId: string;
    readonly attemptId: string;
    readonly attempt: number;
    readonly agentId: string;
    readonly feedback: readonly { readonly gate: string; readonly detail: string }[];
  };
  'workspace.created': {
    readonly runId: string;
    readonly attempt: number;
    readonly dir: string;
    readonly baseCommit: string;
    readonly durationMs: number;
    /** `overlay` (a mount over a cached checkout) or `worktree` (a full checkout). */
    readonly strategy?: string;
    /** Why `auto` did not use the overlay, when it did not. */
    readonly strategyReason?: string;
  };
  /** One connection an allow-list sandbox made through the egress proxy, or was refused. */
  'network.allowed': NetworkDecisionData;
  'network.refused': NetworkDecisionData;
  /** Connections over the per-attempt recording cap are counted here instead. */
  'network.summary': {
    readonly runId: string;
    readonly attempt: number;
    readonly phase: 'agent' | 'validators';
    readonly allowed: number;
    readonly refused: number;
    readonly unrecorded: number;
  };
  'agent.started': {
    readonly runId: string;
    readonly attempt: number;
    readonly agentId: string;
    readonly command: string;
    readonly args: readonly string[];
    readonly timeoutSec: number;
  };
  'agent.event': {
    readonly runId: string;
    readonly attempt: number;
    readonly type: string;
    readonly message: string | null;
    readonly data: unknown;
  };
  'agent.finished': {
    readonly runId: string;
    readonly attempt: number;
    readonly agentId: string;
    readonly ok: boolean;
    readonly code: string;
    readonly detail: string;
    readonly exitCode: number | null;
    readonly signal: string | null;
    readonly durationMs: number;
    readonly result: unknown;
    readonly rejectedEvents: number;
  };
  'patch.computed': {
    readonly runId: string;
    readonly attempt: number;
    readonly sha256: string;
    readonly stats: unknown;
    readonly files: readonly {
      readonly path: string;
      readonly status: string;
      readonly binary: boolean;
    }[];
    readonly runtimeDropped: readonly {
      readonly path: string;
      readonly layer: string;
      readonly rule: string;
    }[];
    readonly ignoredUntracked: number;
    readonly durationMs: number;
  };
  'policy.denied': {
    readonly runId: string;
    readonly attempt: number;
    readonly path: string;
    readonly kind: string;
    readonly layer: string | null;
    readonly rule: string | null;
    readonly reason: string;
  };
  'gate.passed': GateVerdictData;
  'gate.failed': GateVerdictData;
  'run.attempt.finished': {
    readonly runId: string;
    readonly attempt: number;
    readonly agentId: string;
    readonly status: string;
    readonly code: string;
    readonly detail: string;
    readonly durationMs: number;
  };
  'run.retry.scheduled': {
    readonly runId: string;
    readonly nextAttempt: number;
    readonly agentId: string;
    readonly feedback: readonly { readonly gate: string; readonly detail: string }[];
  };
  'run.fallback.started': {
    readonly runId: string;
    readonly agentId: string;
    readonly previousAgentId: string;
    readonly reason: string;
  };
  'artifact.stored': {
    readonly runId: string;
    readonly kind: 'patch' | 'summary';
    readonly sha256: string;
    readonly path: string;
    readonly bytes: number;
  };
  'run.completed': {
    readonly runId: string;
    readonly status: string;
    readonly reasonCode: string;
    readonly detail: string;
    readonly patchSha256: string | null;
  };
  'run.interrupted': {
    readonly runId: string;
    readonly previousOwner: string | null;
    readonly detail: string;
    /**
     * lease_expired: the holder stopped renewing (it died or hung); reservation_expired: the
     * process a run was reserved for died before claiming it; released: the holder gave the run
     * back on shutdown. Absent on events recorded before the field existed.
     */
    readonly cause?: 'lease_expired' | 'reservation_expired' | 'released';
  };
  'workspace.removed': { readonly runId: string; readonly attempt: number; readonly dir: string };
  'workspace.kept': {
    readonly runId: string;
    readonly attempt: number;
    readonly dir: string;
    readonly reason: string;
  };
  /** One model call the agent made through the gateway, with its usage and cost. */
  'agent.usage': {
    readonly runId: string;
    readonly attempt: number;
    readonly provider: string;
    readonly api: string | null;
    readonly model: string | null;
    readonly status: number;
    readonly stream: boolean;
    readonly inputTokens: number;
    readonly outputTokens: number;
    readonly cachedInputTokens: number;
    readonly costUsd: number;
    readonly latencyMs: number;
    /** Why the gateway answered itself instead of forwarding (budget, auth, no price…). */
    readonly refused: string | null;
    /**
     * A forwarded answer that carried no usage: it was counted as nothing, and under a budget
     * the gateway refuses every later call. Absent on events recorded before the field existed.
     */
    readonly unmetered?: boolean;
  };
  /**
   * A model budget was spent: during an attempt, further calls are refused and the agent is
   * stopped; before one, the attempt does not start. `limitValue` and `spentValue` are the
   * scope's own limit and total, earlier attempts, runs or sessions included.
   */
  'budget.exceeded': {
    readonly runId: string;
    /** The attempt that was stopped, or (`before_attempt`) the one that was not started. */
    readonly attempt: number;
    readonly limit: string;
    readonly limitValue: number;
    readonly spentValue: number;
    readonly detail: string;
    /** Whose budget. Absent on events recorded before budgets had scopes (always the run's). */
    readonly scope?: 'run' | 'session' | 'repository-day';
    /** Absent on events recorded before the field existed (always `during_attempt`). */
    readonly stage?: 'before_attempt' | 'during_attempt';
  };
  /** A decision on the run's exact patch by an authenticated identity. */
  'approval.recorded': {
    readonly runId: string;
    readonly approvalId: string;
    readonly decision: 'approved' | 'rejected';
    readonly decidedBy: string;
    readonly note: string | null;
    readonly patchSha256: string;
    readonly attempt: number;
    readonly targetBranch: string;
    readonly expiresAt: string;
  };
  /** Approvals that no longer count: they were for an earlier attempt's patch. */
  'approval.voided': {
    readonly runId: string;
    readonly approvalIds: readonly string[];
    readonly reason: string;
  };
  'promotion.requested': {
    readonly runId: string;
    readonly requestedMode: string;
    readonly targetBranch: string;
    readonly resumed: boolean;
  };
  /** Every preflight check with its verdict, in order; nothing is written unless all pass. */
  'promotion.preflight': {
    readonly runId: string;
    readonly ok: boolean;
    readonly mode: string;
    readonly checks: readonly PreflightCheckData[];
  };
  'promotion.lease.acquired': {
    readonly runId: string;
    readonly key: string;
    readonly owner: string;
    readonly fencingToken: number;
    readonly expiresAt: string;
  };
  /** The requested mode could not be carried out; a safer one is, for this reason. */
  'promotion.fallback': {
    readonly runId: string;
    readonly from: string;
    readonly to: string;
    readonly reason: string;
  };
  'promotion.committed': {
    readonly runId: string;
    readonly commitSha: string;
    readonly parent: string;
    readonly branch: string;
  };
  'promotion.pushed': {
    readonly runId: string;
    readonly remote: string;
    readonly branch: string;
    readonly commitSha: string;
    /** True when a retry found the branch already pushed with this commit. */
    readonly alreadyPushed: boolean;
  };
  'promotion.pr.opened': {
    readonly runId: string;
    readonly provider: string;
    readonly url: string;
    readonly number: number;
    /** False when a retry found the pull request already open. */
    readonly created: boolean;
  };
  'promotion.pr.failed': {
    readonly runId: string;
    readonly provider: string;
    readonly branch: string;
    readonly code: string;
    readonly detail: string;
  };
  'promotion.attested': {
    readonly runId: string;
    readonly attestationSha256: string;
    readonly keyId: string;
    readonly subjects: readonly string[];
  };
  'promotion.completed': {
    readonly runId: string;
    readonly mode: string;
    readonly branch: string | null;
    readonly commitSha: string | null;
    readonly prUrl: string | null;
    readonly attestationSha256: string;
  };
  'promotion.failed': {
    readonly runId: string;
    readonly step: string;
    readonly code: string;
    readonly detail: string;
  };
}

export interface PreflightCheckData {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export type SessionEventType = keyof SessionEventMap;

export interface TypedEvent<K extends SessionEventType = SessionEventType> {
  readonly type: K;
  readonly data: SessionEventMap[K];
}

const KNOWN_TYPES: Record<SessionEventType, true> = {
  'session.created': true,
  'run.queued': true,
  'schedule.fired': true,
  'run.started': true,
  'run.base.resolved': true,
  'policy.resolved': true,
  'sandbox.selected': true,
  'sandbox.degraded': true,
  'run.attempt.started': true,
  'workspace.created': true,
  'network.allowed': true,
  'network.refused': true,
  'network.summary': true,
  'agent.started': true,
  'agent.event': true,
  'agent.finished': true,
  'patch.computed': true,
  'policy.denied': true,
  'gate.passed': true,
  'gate.failed': true,
  'run.attempt.finished': true,
  'run.retry.scheduled': true,
  'run.fallback.started': true,
  'artifact.stored': true,
  'run.completed': true,
  'run.interrupted': true,
  'run.requeued': true,
  'run.cancel.requested': true,
  'lease.fenced': true,
  'workspace.removed': true,
  'workspace.kept': true,
  'agent.usage': true,
  'budget.exceeded': true,
  'approval.recorded': true,
  'approval.voided': true,
  'promotion.requested': true,
  'promotion.preflight': true,
  'promotion.lease.acquired': true,
  'promotion.fallback': true,
  'promotion.committed': true,
  'promotion.pushed': true,
  'promotion.pr.opened': true,
  'promotion.pr.failed': true,
  'promotion.attested': true,
  'promotion.completed': true,
  'promotion.failed': true,
};

export const SESSION_EVENT_TYPES = Object.keys(KNOWN_TYPES) as SessionEventType[];

export function isSessionEventType(value: string): value is SessionEventType {
  return Object.hasOwn(KNOWN_TYPES, value);
}
