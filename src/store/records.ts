/** Persistence vocabulary. The `sessions` context re-exports these as its domain types. */

export const RunStatus = {
  queued: 'queued',
  running: 'running',
  readyForPromotion: 'ready_for_promotion',
  humanReview: 'human_review',
  blocked: 'blocked',
  failed: 'failed',
  cancelled: 'cancelled',
  awaitingApproval: 'awaiting_approval',
  promoting: 'promoting',
  promoted: 'promoted',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];
export const RUN_STATUSES = Object.values(RunStatus) as RunStatus[];

/** States from which the run itself will not move again without a new decision (promotion aside). */
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = [
  RunStatus.readyForPromotion,
  RunStatus.humanReview,
  RunStatus.blocked,
  RunStatus.failed,
  RunStatus.cancelled,
  RunStatus.promoted,
];

export const AttemptStatus = {
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  blocked: 'blocked',
} as const;
export type AttemptStatus = (typeof AttemptStatus)[keyof typeof AttemptStatus];

/** An event as a caller hands it to the store: the store assigns `seq`, `prevHash` and `hash`. */
export interface NewEvent {
  readonly type: string;
  /** ISO-8601 UTC. */
  readonly at: string;
  readonly actor: string;
  readonly data: unknown;
}

export interface StoredEvent extends NewEvent {
  readonly sessionId: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

export interface SessionRecord {
  readonly id: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly task: string;
  readonly repo: string;
  readonly agent: string;
  readonly requestedBy: string;
  readonly labels: readonly string[];
  /** Mirrors the status of the session's latest run. */
  readonly status: RunStatus;
  readonly reasonCode: string | null;
  /** Seq and hash of the newest event: the chain head, so truncation of the tail is detectable. */
  readonly lastSeq: number;
  readonly lastHash: string;
}

export interface RunRecord {
  readonly id: string;
  readonly sessionId: string;
  readonly status: RunStatus;
  readonly reasonCode: string | null;
  readonly reasonDetail: string | null;
  readonly jobSpec: unknown;
  readonly baseRef: string | null;
  readonly baseCommit: string | null;
  readonly patchSha256: string | null;
  readonly summary: unknown;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: string | null;
  /** Incremented by every update: optimistic concurrency for callers that pass `expect.version`. */
  readonly version: number;
}

export interface AttemptRecord {
  readonly id: string;
  readonly runId: string;
  readonly number: number;
  readonly agentId: string;
  readonly status: AttemptStatus;
  readonly reasonCode: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly detail: unknown;
}

export interface NewSession {
  readonly id: string;
  readonly createdAt: string;
  readonly task: string;
  readonly repo: string;
  readonly agent: string;
  readonly requestedBy: string;
  readonly labels: readonly string[];
}

export interface NewRun {
  readonly id: string;
  readonly createdAt: string;
  readonly jobSpec: unknown;
  /**
   * A run submitted for immediate execution by one process is created already leased to it,
   * so that if the process dies before claiming it, recovery ends it like a running run whose
   * lease expired. Runs that wait for any worker carry no lease.
   */
  readonly reservedBy?: { readonly leaseOwner: string; readonly leaseExpiresAt: string };
}

/**
 * Fencing token for a write made on behalf of a run: the write happens only while `leaseOwner`
 * still holds the run's lease, checked inside the write's own transaction after the session
 * lock is taken. A holder whose lease was ended by recovery can then write nothing more.
 */
export interface RunFence {
  readonly runId: string;
  readonly leaseOwner: string;
}

/** Fields of a run a caller may change. Absent = unchanged; `null` = cleared. */
export interface RunChanges {
  readonly status?: RunStatus;
  readonly reasonCode?: string | null;
  readonly reasonDetail?: string | null;
  readonly baseRef?: string | null;
  readonly baseCommit?: string | null;
  readonly patchSha256?: string | null;
  readonly summary?: unknown;
  readonly startedAt?: string | null;
  readonly finishedAt?: string | null;
  readonly leaseOwner?: string | null;
  readonly leaseExpiresAt?: string | null;
}

export interface SessionFilter {
  readonly status?: RunStatus;
  /** Cursor: return sessions created strictly before this session id (ids sort by time). */
  readonly beforeId?: string;
  readonly limit?: number;
}

export interface EventRange {
  /** Return events with seq > afterSeq. Default 0. */
  readonly afterSeq?: number;
  readonly limit?: number;
}
