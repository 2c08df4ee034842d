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

/** A session as a list shows it: with its latest run, so a list can link to the run. */
export interface SessionListItem extends SessionRecord {
  /** The session's latest run (newest `createdAt`, then highest id); null if it has none. */
  readonly runId: string | null;
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
  /** Copied from the session: the key of the per-repository concurrency limit. */
  readonly repo: string;
  /** Higher is claimed first; ties go to the oldest run. */
  readonly priority: number;
  /**
   * Incremented by every claim (0 = never claimed). A holder's writes carry the token it was
   * given; any later claim, even by the same owner, fences the earlier holder off.
   */
  readonly fencingToken: number;
  /** How many times the run has been claimed; the queue requeues while this is below `maxClaims`. */
  readonly claimCount: number;
  /** The job's budget of claims: 1 + how often an interrupted run may be requeued. */
  readonly maxClaims: number;
  /**
   * The fencing token of the last lease renewal: when it is not `fencingToken`, the current
   * holder never acknowledged its claim (see RunQueue.sweep).
   */
  readonly renewedFencingToken: number | null;
  /** Claims the sweep gave back unspent because their holder never acknowledged them. */
  readonly unacknowledgedClaims: number;
  /** Not claimable before this instant (retry backoff); null = at once. */
  readonly notBefore: string | null;
  /** Set when someone asked a running run to stop; the holder learns it from its heartbeat. */
  readonly cancelRequestedAt: string | null;
  readonly cancelRequestedBy: string | null;
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
  /** Default 0. */
  readonly priority?: number;
  /** Default 1 (never requeued after an interruption). */
  readonly maxClaims?: number;
  /**
   * What a worker must offer to claim the run (`label:<l>`, `worker:<name>`, `agent:<id>`); see
   * `WorkerMatch`. None: any worker may claim it.
   */
  readonly requirements?: readonly string[];
}

/** The kinds of run requirement; a requirement is written `<kind>:<value>`. */
export const RequirementKind = { label: 'label', worker: 'worker', agent: 'agent' } as const;
export type RequirementKind = (typeof RequirementKind)[keyof typeof RequirementKind];
export const REQUIREMENT_KINDS = Object.values(RequirementKind) as RequirementKind[];

/**
 * What a claiming worker offers. A run is claimable by it only when every requirement of the run
 * is among `offers`, except `agent:` requirements when `anyAgent` (an embedded worker runs on
 * the server, whose agent registry already refused a job naming an agent it lacks).
 */
export interface WorkerMatch {
  readonly offers: readonly string[];
  readonly anyAgent: boolean;
}

/**
 * Fencing token for a write made on behalf of a run: the write happens only while `leaseOwner`
 * still holds the run's lease, checked inside the write's own transaction after the session
 * lock is taken. A holder whose lease was ended by recovery can then write nothing more.
 */
export interface RunFence {
  readonly runId: string;
  readonly leaseOwner: string;
  /**
   * The token the claim returned. When given, the write also requires the run's current token
   * to equal it, so a holder that lost the lease and was re-granted a new one (same owner
   * name) cannot write with the old claim.
   */
  readonly fencingToken?: number;
  /**
   * A remote worker's sequence number for this write under this claim (needs `fencingToken`).
   * The write is recorded with it in the same transaction; the same number again (a request
   * retried after its answer was lost) writes nothing and fails with CONFLICT whose details
   * say `duplicateWrite: true`.
   */
  readonly writeSeq?: number;
}

/** The fence of a claim as its holder keeps it: owner and token, always both. */
export type HeldFence = Required<Omit<RunFence, 'writeSeq'>>;

/** A run's patch or a log tail as stored for every replica (see Store.putRunArtifact). */
export interface RunArtifactRecord {
  readonly runId: string;
  /** `patch`, or a log's API name such as `1.stdout.log`. */
  readonly name: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Size before a log was cut to its tail (equal to `bytes` when nothing was cut). */
  readonly originalBytes: number;
  readonly createdAt: string;
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
  readonly notBefore?: string | null;
  readonly cancelRequestedAt?: string | null;
  readonly cancelRequestedBy?: string | null;
  /**
   * Claims spent. Set only to give back a claim whose holder never received it (see
   * RunQueue.giveBack); every claim counts it up by itself.
   */
  readonly claimCount?: number;
  /** Set only by the sweep, when it gives back a claim no renewal acknowledged. */
  readonly unacknowledgedClaims?: number;
}

export interface SessionFilter {
  readonly status?: RunStatus;
  /** Exact match on the session's repo. */
  readonly repo?: string;
  /** Exact match on the session's primary agent. */
  readonly agent?: string;
  /** Sessions carrying this label (exact match on one label). */
  readonly label?: string;
  /** Exact match on the identity that requested the session. */
  readonly requestedBy?: string;
  /**
   * Substring of the task, repo, agent or requester, case-insensitive for ASCII letters (the
   * same in both dialects: PostgreSQL's own case folding depends on the database's locale).
   * Every other character, `%` and `_` included, matches only itself.
   */
  readonly q?: string;
  /** Cursor: return sessions created strictly before this session id (ids sort by time). */
  readonly beforeId?: string;
  readonly limit?: number;
}

export interface EventRange {
  /** Return events with seq > afterSeq. Default 0. */
  readonly afterSeq?: number;
  readonly limit?: number;
}

/** What a heartbeat learns: whether the lease is still held, and whether to stop. */
export interface LeaseRenewal {
  readonly held: boolean;
  readonly cancelRequested: boolean;
}

export const TokenRole = {
  viewer: 'viewer',
  operator: 'operator',
  approver: 'approver',
  admin: 'admin',
  worker: 'worker',
} as const;
export type TokenRole = (typeof TokenRole)[keyof typeof TokenRole];
export const TOKEN_ROLES = Object.values(TokenRole) as TokenRole[];

/** An API token. The secret itself is never stored: only its SHA-256. */
export interface TokenRecord {
  readonly id: string;
  /** Unique forever (also after revocation): it is the identity written into history. */
  readonly name: string;
  readonly role: TokenRole;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly revokedAt: string | null;
}

export interface NewToken {
  readonly id: string;
  readonly name: string;
  readonly role: TokenRole;
  /** Lowercase hex SHA-256 of the secret. */
  readonly secretSha256: string;
  readonly createdAt: string;
  readonly createdBy: string;
}

export const ApprovalDecision = { approved: 'approved', rejected: 'rejected' } as const;
export type ApprovalDecision = (typeof ApprovalDecision)[keyof typeof ApprovalDecision];
export const APPROVAL_DECISIONS = Object.values(ApprovalDecision) as ApprovalDecision[];

/** A decision on one run's exact patch, for one target, by one authenticated identity. */
export interface ApprovalRecord {
  readonly id: string;
  readonly runId: string;
  readonly sessionId: string;
  /** The attempt whose patch was decided on; a later attempt voids the approval. */
  readonly attemptNumber: number;
  readonly patchSha256: string;
  readonly repo: string;
  readonly targetBranch: string;
  readonly decision: ApprovalDecision;
  readonly note: string | null;
  /** The identity (token name) that decided. */
  readonly decidedBy: string;
  readonly tokenId: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly voidedAt: string | null;
  readonly voidReason: string | null;
}

export type NewApproval = Omit<ApprovalRecord, 'voidedAt' | 'voidReason'>;

/** The single-writer lease of one promotion target. */
export interface WriterLeaseRecord {
  readonly key: string;
  readonly owner: string;
  readonly runId: string | null;
  readonly fencingToken: number;
  readonly acquiredAt: string;
  readonly expiresAt: string;
}

/** What a promotion step presents: it writes only while this is still the lease. */
export interface WriterLeaseFence {
  readonly key: string;
  readonly owner: string;
  readonly fencingToken: number;
}

export interface PromotionRecord {
  readonly runId: string;
  readonly sessionId: string;
  readonly requestedMode: string;
  /** The mode carried out (after any fallback); null until decided. */
  readonly mode: string | null;
  readonly state: string;
  readonly requestedBy: string;
  readonly targetBranch: string;
  readonly branch: string | null;
  readonly remote: string | null;
  readonly commitSha: string | null;
  readonly prUrl: string | null;
  readonly attestationSha256: string | null;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly detail: unknown;
  readonly version: number;
}

export type NewPromotion = Pick<
  PromotionRecord,
  'runId' | 'requestedMode' | 'state' | 'requestedBy' | 'targetBranch' | 'startedAt' | 'detail'
>;

/** Absent = unchanged. */
export interface PromotionChanges {
  readonly mode?: string | null;
  readonly state?: string;
  readonly branch?: string | null;
  readonly remote?: string | null;
  readonly commitSha?: string | null;
  readonly prUrl?: string | null;
  readonly attestationSha256?: string | null;
  readonly detail?: unknown;
}

/**
 * What model calls spent, summed over a scope. Projected from `agent.usage` events in the
 * transaction that appends them: calls the gateway answered itself without forwarding (a spent
 * budget, a wrong key, an unpriced model…) cost nothing and are not counted.
 */
export interface ModelSpend {
  readonly calls: number;
  /** Includes the cached input tokens, as the providers count them. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly costUsd: number;
}

export const NO_MODEL_SPEND: ModelSpend = {
  calls: 0,
  inputTokens: 0,
  outputTokens: 0,
  cachedInputTokens: 0,
  costUsd: 0,
};

/**
 * Whose spend: one run (every attempt and claim of it), one session, or one repository over a
 * time window `[fromIso, toIso)` of the calls' recording times (a repository is keyed as the
 * run's `repo`, the path or URL it was submitted with).
 */
export type ModelSpendScope =
  | { readonly runId: string }
  | { readonly sessionId: string }
  | { readonly repo: string; readonly fromIso: string; readonly toIso: string };

/** How a schedule's slots are laid out in time. */
export const ScheduleKind = { once: 'once', interval: 'interval', cron: 'cron' } as const;
export type ScheduleKind = (typeof ScheduleKind)[keyof typeof ScheduleKind];
export const SCHEDULE_KINDS = Object.values(ScheduleKind) as ScheduleKind[];

/**
 * What a schedule does about slots that passed while no scheduler ran (downtime): `skip` them
 * and wait for the next one, or `run_once` for the latest of them, then go on.
 */
export const MisfirePolicy = { skip: 'skip', runOnce: 'run_once' } as const;
export type MisfirePolicy = (typeof MisfirePolicy)[keyof typeof MisfirePolicy];
export const MISFIRE_POLICIES = Object.values(MisfirePolicy) as MisfirePolicy[];

/** Who made a fire happen: the scheduler at a slot, or a person asking for one now. */
export const FireTrigger = { schedule: 'schedule', manual: 'manual' } as const;
export type FireTrigger = (typeof FireTrigger)[keyof typeof FireTrigger];
export const FIRE_TRIGGERS = Object.values(FireTrigger) as FireTrigger[];

/** `fired` created a session and its run; `skipped` records slots a `skip` policy let pass. */
export const FireOutcome = { fired: 'fired', skipped: 'skipped' } as const;
export type FireOutcome = (typeof FireOutcome)[keyof typeof FireOutcome];
export const FIRE_OUTCOMES = Object.values(FireOutcome) as FireOutcome[];

/**
 * A stored schedule: when (`kind` with `at`, `everySec` or `cron` + `timezone`), what (a JobSpec
 * template, validated by the caller), and where it stands (`nextFireAt`, `pausedAt`).
 */
export interface ScheduleRecord {
  readonly id: string;
  /** Unique among live schedules. */
  readonly name: string;
  readonly kind: ScheduleKind;
  /** `once`: the instant. `interval`: the first slot; later ones follow every `everySec`. */
  readonly at: string | null;
  readonly everySec: number | null;
  /** `cron`: five fields, read in `timezone` (an IANA name). */
  readonly cron: string | null;
  readonly timezone: string | null;
  readonly misfire: MisfirePolicy;
  /** Set while paused: a paused schedule is never due. */
  readonly pausedAt: string | null;
  readonly jobSpec: unknown;
  /**
   * Who last set the job: the requester of every run the schedule fires, so the self-approval
   * rule reaches whoever wrote the job. Set by the store with every change of `jobSpec`.
   */
  readonly jobSetBy: string;
  /** The next slot to fire; null when there is none (a `once` that fired, a cron that ended). */
  readonly nextFireAt: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedBy: string;
  readonly updatedAt: string;
  /**
   * Incremented by every change, firing included: a fire or an update that expects the version
   * it read cannot act on a schedule someone else changed meanwhile.
   */
  readonly version: number;
}

export type NewSchedule = Omit<ScheduleRecord, 'jobSetBy' | 'updatedBy' | 'updatedAt' | 'version'>;

/** Absent = unchanged. Timing fields change together with `kind` (the caller sends all four). */
export interface ScheduleChanges {
  readonly name?: string;
  readonly kind?: ScheduleKind;
  readonly at?: string | null;
  readonly everySec?: number | null;
  readonly cron?: string | null;
  readonly timezone?: string | null;
  readonly misfire?: MisfirePolicy;
  readonly pausedAt?: string | null;
  /** Also makes the change's `updatedBy` the job's author (`jobSetBy`). */
  readonly jobSpec?: unknown;
  readonly nextFireAt?: string | null;
}

/** One slot of a schedule that was fired or skipped, at most once per (schedule, trigger, slot). */
export interface ScheduleFireRecord {
  readonly scheduleId: string;
  readonly trigger: FireTrigger;
  /** The slot (a manual fire's slot is the instant it was asked for). */
  readonly slotAt: string;
  readonly outcome: FireOutcome;
  /** Slots before this one that were not run on their own (downtime, or a `skip`). */
  readonly missedSlots: number;
  readonly sessionId: string | null;
  readonly runId: string | null;
  readonly recordedAt: string;
  readonly recordedBy: string;
}

/** What `fireSchedule` did. */
export type FireScheduleResult =
  | {
      /** The fire row was written (and, for `fired`, the session with its run). */
      readonly outcome: 'fired' | 'skipped';
      readonly schedule: ScheduleRecord;
      readonly fire: ScheduleFireRecord;
      readonly events: readonly StoredEvent[];
    }
  | {
      /** This slot was fired before (by another replica): nothing but the advance was written. */
      readonly outcome: 'already_fired';
      readonly schedule: ScheduleRecord;
    }
  | {
      /** The schedule changed (or was deleted) since it was read: nothing was written. */
      readonly outcome: 'stale';
      readonly schedule: ScheduleRecord | null;
    };

/** What a remote worker said it can do when it registered. */
export interface WorkerCapabilities {
  /** Agent ids whose CLIs are installed on the worker's host. */
  readonly agents: readonly string[];
  /** Sandbox backends usable there (`bubblewrap`, `plain`). */
  readonly sandbox: readonly string[];
}

/** A remote worker enrolled through a one-time enrolment. Its credential hash is never returned. */
export interface RemoteWorkerRecord {
  readonly id: string;
  /** Unique forever (also after revocation), like a token name. */
  readonly name: string;
  readonly labels: readonly string[];
  readonly capabilities: WorkerCapabilities;
  readonly enrolledAt: string;
  readonly enrolledBy: string;
  readonly revokedAt: string | null;
  readonly lastSeenAt: string | null;
  /** An administrator's drain: the worker gets no runs until resumed. */
  readonly draining: boolean;
  /**
   * When the worker last said, on a heartbeat, that it is draining itself (it finishes what it
   * holds and stops); null once it says otherwise or claims again. Display only.
   */
  readonly selfDrainReportedAt: string | null;
}

/** A one-time enrolment secret (only its SHA-256 is stored), for one named worker. */
export interface WorkerEnrolmentRecord {
  readonly id: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly createdAt: string;
  readonly createdBy: string;
  readonly expiresAt: string;
  readonly usedAt: string | null;
  readonly workerId: string | null;
}

export interface NewWorkerEnrolment {
  readonly id: string;
  readonly name: string;
  readonly labels: readonly string[];
  /** Lowercase hex SHA-256 of the enrolment secret. */
  readonly secretSha256: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly expiresAt: string;
}

export interface RegisterWorkerInput {
  readonly enrolmentSecretSha256: string;
  readonly nowIso: string;
  readonly workerId: string;
  /** Lowercase hex SHA-256 of the worker's new credential. */
  readonly credentialSha256: string;
  readonly capabilities: WorkerCapabilities;
}

/** Who holds a running run's lease. */
export interface RunLease {
  readonly runId: string;
  readonly leaseOwner: string;
  readonly fencingToken: number;
  readonly leaseExpiresAt: string | null;
}
