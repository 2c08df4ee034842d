import type { NewRunArtifact } from './artifact-operations.js';
import type { RunGuard } from './promotion-operations.js';
import type {
  ApprovalRecord,
  AttemptRecord,
  AttemptStatus,
  EventRange,
  FireScheduleResult,
  LeaseRenewal,
  ModelSpend,
  ModelSpendScope,
  NewApproval,
  NewEvent,
  NewPromotion,
  NewRun,
  NewSchedule,
  NewSession,
  NewToken,
  NewWorkerEnrolment,
  PromotionChanges,
  PromotionRecord,
  RegisterWorkerInput,
  RemoteWorkerRecord,
  RunArtifactRecord,
  RunChanges,
  RunFence,
  RunLease,
  RunRecord,
  RunStatus,
  ScheduleChanges,
  ScheduleFireRecord,
  ScheduleRecord,
  SessionFilter,
  SessionListItem,
  SessionRecord,
  StoredEvent,
  TokenRecord,
  WorkerEnrolmentRecord,
  WorkerMatch,
  WriterLeaseFence,
  WriterLeaseRecord,
} from './records.js';
import type { FireScheduleInput } from './schedule-operations.js';

export type Dialect = 'sqlite' | 'postgres';

/**
 * Operation-level storage port. Every method that changes state also appends that change's
 * events, in the same transaction: no state without its event, no event without its state.
 * Implementations: SQLite (better-sqlite3, WAL) and PostgreSQL (pg), both via Kysely, both
 * proven by one conformance suite.
 */
/** A running attempt ended by a run's update (updateRun's `finishAttempts`). */
export interface AttemptEnd {
  readonly attemptId: string;
  readonly status: AttemptStatus;
  readonly reasonCode: string | null;
  readonly finishedAt: string;
  readonly detail: unknown;
  /** Its `run.attempt.finished`. */
  readonly event: NewEvent;
}

export interface Store {
  readonly dialect: Dialect;

  /** Creates a session with its first run (status `queued`) and appends `events` (seq 1…). */
  createSession(input: {
    session: NewSession;
    run: NewRun;
    events: readonly NewEvent[];
  }): Promise<StoredEvent[]>;

  /**
   * Appends events to a session's hash chain. Seq is gap-free per session; concurrent appenders
   * to one session are serialised by the database (row lock on the session), never interleaved.
   * Throws NOT_FOUND for an unknown session. With a `fence`, appends only while
   * `fence.leaseOwner` holds the lease of `fence.runId`, a run of this session; otherwise
   * appends nothing and throws LEASE_FENCED. An `agent.usage` event (a model call through the
   * gateway) also records its spend for `modelSpend`, in the same transaction (as in every
   * operation that appends events); one whose payload is not a model call of a run of this
   * session is INVALID_ARGUMENT, and nothing is written.
   */
  appendEvents(
    sessionId: string,
    events: readonly NewEvent[],
    fence?: RunFence,
  ): Promise<StoredEvent[]>;

  /**
   * Changes a run and appends events atomically. When `expect` is given and the run's current
   * status or version does not match, nothing is written and CONFLICT is thrown; when
   * `expect.leaseOwner` is given and does not hold the run's lease, nothing is written and
   * LEASE_FENCED is thrown (checked first). A status change is mirrored to the session row.
   */
  updateRun(input: {
    runId: string;
    expect?: {
      status?: readonly RunStatus[];
      version?: number;
      leaseOwner?: string;
      /** With `leaseOwner`: the run's fencing token must also equal this (else LEASE_FENCED). */
      fencingToken?: number;
    };
    changes: RunChanges;
    events: readonly NewEvent[];
    /** A remote worker's write number under `expect`'s fence: applied once (see RunFence). */
    writeSeq?: number;
    /**
     * Running attempts that end with this change, in its transaction, their events appended
     * before `events` (an attempt ends before its run does). One no longer running is CONFLICT
     * and nothing is written.
     */
    finishAttempts?: readonly AttemptEnd[];
  }): Promise<{ run: RunRecord; events: StoredEvent[] }>;

  /**
   * Inserts a running attempt and appends events. Voids the run's standing approvals in the same
   * transaction (an approval is for the patch of the attempt it names) and then appends one
   * `approval.voided` event after `events`. With a `fence` (whose run must be the
   * attempt's run, else INVALID_ARGUMENT), writes only while the fence holds the run's lease,
   * else LEASE_FENCED.
   */
  createAttempt(input: {
    attempt: { id: string; runId: string; number: number; agentId: string; startedAt: string };
    events: readonly NewEvent[];
    fence?: RunFence;
  }): Promise<StoredEvent[]>;

  /**
   * Finishes a running attempt (a second finish is CONFLICT) and appends events. With a `fence`
   * (whose run must be the attempt's run, else INVALID_ARGUMENT), writes only while the fence
   * holds the run's lease, else LEASE_FENCED.
   */
  finishAttempt(input: {
    attemptId: string;
    status: AttemptStatus;
    reasonCode: string | null;
    finishedAt: string;
    detail: unknown;
    events: readonly NewEvent[];
    fence?: RunFence;
  }): Promise<StoredEvent[]>;

  /**
   * Extends the lease only if `fence.leaseOwner` still holds it (and, when given, with the same
   * fencing token). `held: false` when it does not; `cancelRequested` tells the holder to stop.
   * NOT_FOUND for an unknown run.
   */
  renewRunLease(fence: RunFence, leaseExpiresAt: string): Promise<LeaseRenewal>;

  /**
   * Atomically claims the best claimable run and appends `events(claimedRun)` to its session in
   * the same transaction. Claimable: `queued`, no cancel requested, `notBefore` null or
   * <= `nowIso`, and either unleased or reserved for `owner`. Best: highest priority, then
   * oldest `createdAt`, then lowest id. With `maxRunningPerRepo`, a run is skipped while that
   * many runs of its repo are `running`. With `runId`, only that run is considered. The claim
   * sets status `running`, the lease, `startedAt`, increments `fencingToken`, `claimCount` and
   * `version`, and clears `notBefore`. Returns null when nothing is claimable. Concurrent
   * claimers (threads, processes, PostgreSQL connections) never claim the same run twice and
   * never exceed `maxRunningPerRepo`. With `match`, a run is claimable only when every one of
   * its requirements is among `match.offers` (agent requirements aside under `anyAgent`); a
   * worker that does not match never receives it.
   */
  claimRun(input: {
    owner: string;
    nowIso: string;
    leaseExpiresAt: string;
    maxRunningPerRepo?: number;
    runId?: string;
    match?: WorkerMatch;
    /** The claim's events; without it, `run.started` as `claimStartedEvent` builds it. */
    events?: (claimed: RunRecord) => readonly NewEvent[];
  }): Promise<{ run: RunRecord; events: StoredEvent[] } | null>;

  /** Number of runs in each status (every status present, zero when none). */
  countRunsByStatus(): Promise<Record<RunStatus, number>>;

  /**
   * Runs holding a lease that expired before `nowIso`, oldest first: `running` runs whose holder
   * stopped renewing, and `queued` runs reserved by a process that died before claiming them.
   */
  listRunsWithExpiredLease(nowIso: string, limit?: number): Promise<RunRecord[]>;

  /**
   * Forgets which numbered remote writes were applied (see `writeSeq`) for at most `maxRuns`
   * runs that finished before `finishedBeforeIso`; says how many records and runs went.
   */
  pruneLeaseWrites(
    finishedBeforeIso: string,
    maxRuns: number,
  ): Promise<{ records: number; runs: number }>;

  getSession(id: string): Promise<SessionRecord | null>;
  /** Newest first, each with its latest run. */
  listSessions(filter?: SessionFilter): Promise<SessionListItem[]>;
  getRun(id: string): Promise<RunRecord | null>;
  listRunsForSession(sessionId: string): Promise<RunRecord[]>;
  listAttempts(runId: string): Promise<AttemptRecord[]>;
  /** Ascending seq. */
  readEvents(sessionId: string, range?: EventRange): Promise<StoredEvent[]>;
  /**
   * The last seq of each of these sessions, in one read however many there are (followers of
   * many sessions ask it instead of reading each one's events); unknown ids are left out.
   */
  lastSeqs(sessionIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * What model calls spent in `scope`: a run (all its attempts and claims), a session, or a
   * repository over `[fromIso, toIso)`. Each sum reads an index of the spend rows, never the
   * events. NOT_FOUND for an unknown run or session; an unknown repository spent nothing.
   */
  modelSpend(scope: ModelSpendScope): Promise<ModelSpend>;
  /**
   * Stores a run's patch or log tail where every replica reads it, replacing one of the same
   * name. With `fence`, only while it holds the run's lease (else LEASE_FENCED). NOT_FOUND for
   * an unknown run; INVALID_ARGUMENT for a name other than `patch` or `<attempt>.<file>`.
   */
  putRunArtifact(artifact: NewRunArtifact): Promise<RunArtifactRecord>;
  /** One artifact with its bytes; null when the run has none of that name. */
  getRunArtifact(
    runId: string,
    name: string,
  ): Promise<{ artifact: RunArtifactRecord; content: Buffer } | null>;
  /** A run's artifacts without their bytes, by name. */
  listRunArtifacts(runId: string): Promise<RunArtifactRecord[]>;
  /** Every session id, oldest first (used by `aas audit verify` without an id). */
  listSessionIds(): Promise<string[]>;

  /** NAME_TAKEN when the name is taken (revoked names stay taken); CONFLICT when the hash exists. */
  createToken(token: NewToken): Promise<TokenRecord>;
  /** The token whose secret hashes to this, revoked or not; null when none. */
  findTokenBySecretHash(secretSha256: string): Promise<TokenRecord | null>;
  /** Oldest first, revoked included. */
  listTokens(): Promise<TokenRecord[]>;
  /** Revokes by id or name; NOT_FOUND when neither matches; revoking twice keeps the first time. */
  revokeToken(idOrName: string, revokedAt: string): Promise<TokenRecord>;
  countTokens(): Promise<number>;

  /**
   * Stores a one-time enrolment for the worker `name`. NAME_TAKEN (field `name`) when a worker
   * already has the name (names stay taken after revocation).
   */
  createWorkerEnrolment(enrolment: NewWorkerEnrolment): Promise<WorkerEnrolmentRecord>;
  /**
   * Spends the enrolment whose secret hashes to `enrolmentSecretSha256` and creates its worker
   * (name and labels from the enrolment), atomically. UNAUTHENTICATED when the enrolment is
   * unknown, used or expired at `nowIso` (one error for all three); NAME_TAKEN when the name was
   * taken since (the enrolment stays unused).
   */
  registerWorker(input: RegisterWorkerInput): Promise<RemoteWorkerRecord>;
  /** Enrolments neither used nor expired at `nowIso`, oldest first: secrets that still work. */
  listPendingEnrolments(nowIso: string): Promise<WorkerEnrolmentRecord[]>;
  /**
   * Ends every pending enrolment for the worker `name` (recorded as used at `nowIso`, by no
   * worker), so that no secret handed out for it registers a worker any more; returns them, so
   * marked (none: an empty list).
   */
  withdrawEnrolments(name: string, nowIso: string): Promise<WorkerEnrolmentRecord[]>;
  /** The worker whose credential hashes to this, revoked or not; null when none. */
  findWorkerByCredentialHash(credentialSha256: string): Promise<RemoteWorkerRecord | null>;
  /** By id, else by name. */
  getWorker(idOrName: string): Promise<RemoteWorkerRecord | null>;
  /** By name, revoked included. */
  listWorkers(): Promise<RemoteWorkerRecord[]>;
  /** NOT_FOUND when neither id nor name matches; revoking twice keeps the first time. */
  revokeWorker(idOrName: string, revokedAt: string): Promise<RemoteWorkerRecord>;
  /** Sets `lastSeenAt` (a claim or heartbeat); NOT_FOUND for an unknown id. */
  /**
   * The worker was in contact at `seenAt`. `selfDraining`: whether it said it is draining itself
   * (true records `seenAt` as `selfDrainReportedAt`, false clears it); absent leaves it.
   */
  recordWorkerSeen(id: string, seenAt: string, selfDraining?: boolean): Promise<RemoteWorkerRecord>;
  /**
   * Records `value` as the installation's `name` unless one is recorded already, and returns
   * the one that holds: `value` when this call wrote it, else the first writer's (concurrent
   * callers all get the same). Facts every process of an installation must agree on.
   */
  recordInstallationFact(
    name: string,
    value: string,
    nowIso: string,
  ): Promise<{ readonly value: string; readonly recordedAt: string }>;
  /** The holders of every running run's lease (who is busy with what), oldest claim first. */
  listRunningLeases(): Promise<RunLease[]>;
  /** A draining worker is told so by its heartbeats and gets no new claims; NOT_FOUND. */
  setWorkerDraining(idOrName: string, draining: boolean): Promise<RemoteWorkerRecord>;

  /**
   * Records an approval decision, changes the run when `runChanges` is given, and appends
   * events, atomically. CONFLICT (nothing written) when the run is not in `guard.status`, or
   * its patch digest or latest attempt differs from the guard's, or when the approver already
   * has a standing decision on this patch (an approval unexpired at `approval.createdAt`, or a
   * rejection): checked in the same transaction, so concurrent decisions cannot both record.
   */
  recordApproval(input: {
    approval: NewApproval;
    guard: RunGuard;
    runChanges?: RunChanges;
    events: readonly NewEvent[];
  }): Promise<{ approval: ApprovalRecord; run: RunRecord; events: StoredEvent[] }>;
  /** Newest first; with `runId`, that run's only (NOT_FOUND for an unknown run). */
  listApprovals(filter?: { runId?: string; limit?: number }): Promise<ApprovalRecord[]>;

  /**
   * Takes the writer lease of `key` if it is free, expired or this owner's; each acquisition
   * increments its fencing token. Null while another owner holds it.
   */
  acquireWriterLease(input: {
    key: string;
    owner: string;
    runId: string | null;
    nowIso: string;
    expiresAt: string;
  }): Promise<WriterLeaseRecord | null>;
  /** False when the fence no longer holds the lease (lost, taken over, expired). */
  renewWriterLease(fence: WriterLeaseFence, nowIso: string, expiresAt: string): Promise<boolean>;
  releaseWriterLease(fence: WriterLeaseFence, nowIso: string): Promise<boolean>;
  getWriterLease(key: string): Promise<WriterLeaseRecord | null>;

  getPromotion(runId: string): Promise<PromotionRecord | null>;
  /** Promotions not completed whose run is still `promoting`, oldest first. */
  listUnfinishedPromotions(limit: number): Promise<PromotionRecord[]>;
  /**
   * One promotion step in one transaction: LEASE_FENCED (nothing written) unless `lease` still
   * holds the writer lease unexpired; CONFLICT unless the run matches `guard` and the record is
   * at `expectVersion`; creates the record from `create` when absent (NOT_FOUND when absent and
   * no `create`), applies `changes` and `runChanges`, appends `events`.
   */
  recordPromotionStep(input: {
    runId: string;
    lease?: { fence: WriterLeaseFence; nowIso: string };
    guard?: RunGuard;
    create?: NewPromotion;
    changes?: PromotionChanges;
    expectVersion?: number;
    runChanges?: RunChanges;
    updatedAt: string;
    events: readonly NewEvent[];
  }): Promise<{ promotion: PromotionRecord; run: RunRecord; events: StoredEvent[] }>;

  /**
   * Stores a schedule at version 1. CONFLICT (field `name`) when the name is taken;
   * INVALID_ARGUMENT when the kind, the misfire policy or the timing fields the kind uses do
   * not fit (`once`: `at`; `interval`: `at` and `everySec`; `cron`: `cron` and `timezone`).
   */
  createSchedule(schedule: NewSchedule): Promise<ScheduleRecord>;
  /** By id, else by name; null when neither matches. */
  getSchedule(idOrName: string): Promise<ScheduleRecord | null>;
  /** By name. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /**
   * Applies `changes` and increments the version. NOT_FOUND for an unknown id; CONFLICT when
   * `expectedVersion` is given and differs (nothing written), or the new name is taken.
   */
  updateSchedule(input: {
    id: string;
    expectedVersion?: number;
    changes: ScheduleChanges;
    updatedAt: string;
    updatedBy: string;
  }): Promise<ScheduleRecord>;
  /** Deletes the schedule and its fire records (not the sessions it created); NOT_FOUND. */
  deleteSchedule(id: string): Promise<ScheduleRecord>;
  /** Unpaused schedules whose `nextFireAt` <= `nowIso`, earliest first. */
  dueSchedules(nowIso: string, limit: number): Promise<ScheduleRecord[]>;
  /**
   * Records one fire of a schedule in one transaction: the schedule must still be at
   * `expectedVersion` (else `stale`, nothing written); `advance` moves its next slot and bumps
   * its version; the fire row is keyed (schedule, trigger, slot), so a slot fired before is
   * `already_fired` (only the advance is kept); `create` is the session and run, created as
   * `createSession` would. Concurrent callers, in one process or many, fire a slot once.
   */
  fireSchedule(input: FireScheduleInput): Promise<FireScheduleResult>;
  /** Newest first; NOT_FOUND for an unknown schedule. */
  listScheduleFires(scheduleId: string, limit?: number): Promise<ScheduleFireRecord[]>;

  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** `postgres://…` selects PostgreSQL; otherwise SQLite at `sqlitePath`. */
  readonly databaseUrl?: string;
  readonly sqlitePath: string;
}
