/**
 * The tables as Kysely sees them. Column names are snake_case; JSON columns hold
 * `JSON.stringify` text and timestamps hold ISO-8601 text in both dialects, so SQLite and
 * PostgreSQL return byte-identical values and one set of row mappers serves both.
 */
export interface SessionsTable {
  id: string;
  created_at: string;
  updated_at: string;
  task: string;
  repo: string;
  agent: string;
  requested_by: string;
  /** JSON array of strings, in the order given; `session_labels` indexes them. */
  labels: string;
  status: string;
  reason_code: string | null;
  last_seq: number;
  last_hash: string;
}

export interface RunsTable {
  id: string;
  session_id: string;
  status: string;
  reason_code: string | null;
  reason_detail: string | null;
  /** JSON. */
  job_spec: string;
  base_ref: string | null;
  base_commit: string | null;
  patch_sha256: string | null;
  /** JSON, or NULL when there is no summary yet. */
  summary: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  version: number;
  /** The session's repo, copied so the per-repository limit needs no join. */
  repo: string;
  priority: number;
  fencing_token: number;
  claim_count: number;
  max_claims: number;
  /** The fencing token of the last lease renewal (migration 0010). */
  renewed_fencing_token: number | null;
  /** Claims the sweep gave back unspent because no renewal ever acknowledged them. */
  unacknowledged_claims: number;
  not_before: string | null;
  cancel_requested_at: string | null;
  cancel_requested_by: string | null;
}

/** One row per distinct label of a session. */
export interface SessionLabelsTable {
  session_id: string;
  label: string;
}

export interface TokensTable {
  id: string;
  name: string;
  role: string;
  /** Lowercase hex SHA-256 of the secret; the secret itself is never stored. */
  secret_sha256: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
}

export interface AttemptsTable {
  id: string;
  run_id: string;
  number: number;
  agent_id: string;
  status: string;
  reason_code: string | null;
  started_at: string;
  finished_at: string | null;
  /** JSON, or NULL until the attempt finishes. */
  detail: string | null;
}

export interface EventsTable {
  session_id: string;
  seq: number;
  type: string;
  at: string;
  actor: string;
  /** JSON. */
  data: string;
  prev_hash: string;
  hash: string;
}

export interface ApprovalsTable {
  id: string;
  run_id: string;
  session_id: string;
  /** The attempt whose patch was approved: a later attempt voids the approval. */
  attempt_number: number;
  patch_sha256: string;
  repo: string;
  target_branch: string;
  decision: string;
  note: string | null;
  decided_by: string;
  token_id: string | null;
  created_at: string;
  expires_at: string;
  voided_at: string | null;
  void_reason: string | null;
}

export interface WriterLeasesTable {
  /** `<target branch> <repo>` (writerLeaseKey): one writer per target at a time. */
  key: string;
  owner: string;
  run_id: string | null;
  /** Incremented by every acquisition, by anyone: a holder's steps carry the one they got. */
  fencing_token: number;
  acquired_at: string;
  expires_at: string;
}

export interface PromotionsTable {
  run_id: string;
  session_id: string;
  requested_mode: string;
  mode: string | null;
  state: string;
  requested_by: string;
  target_branch: string;
  branch: string | null;
  remote: string | null;
  commit_sha: string | null;
  pr_url: string | null;
  attestation_sha256: string | null;
  /** Fixed at the first request: the commit's dates, so a retried commit has the same sha. */
  started_at: string;
  updated_at: string;
  /** JSON: preflight checks, fallbacks, errors. */
  detail: string;
  version: number;
}

/**
 * One model call that reached (or was sent towards) a provider, projected from its
 * `agent.usage` event in the same transaction: (session_id, seq) is that event. Indexed by run
 * and by (repo, at), so a budget check sums its scope without reading any event.
 */
export interface ModelSpendTable {
  session_id: string;
  seq: number;
  run_id: string;
  /** The run's repo, copied so the per-repository-per-day sum needs no join. */
  repo: string;
  /** The event's `at`: ISO-8601 UTC, so a day is a range of text. */
  at: string;
  provider: string;
  model: string | null;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cost_usd: number;
}

/** A fact of the installation, written once (migration 0012). */
export interface InstallationFactsTable {
  name: string;
  value: string;
  recorded_at: string;
}

export interface DatabaseSchema {
  sessions: SessionsTable;
  runs: RunsTable;
  attempts: AttemptsTable;
  events: EventsTable;
  session_labels: SessionLabelsTable;
  tokens: TokensTable;
  approvals: ApprovalsTable;
  writer_leases: WriterLeasesTable;
  promotions: PromotionsTable;
  model_spend: ModelSpendTable;
  schedules: SchedulesTable;
  schedule_fires: ScheduleFiresTable;
  run_requirements: RunRequirementsTable;
  remote_workers: RemoteWorkersTable;
  worker_enrolments: WorkerEnrolmentsTable;
  run_artifacts: RunArtifactsTable;
  lease_writes: LeaseWritesTable;
  installation_facts: InstallationFactsTable;
}

export type SessionRow = SessionsTable;
export type RunRow = RunsTable;
export type AttemptRow = AttemptsTable;
export type EventRow = EventsTable;
export type TokenRow = TokensTable;
export type ApprovalRow = ApprovalsTable;
export type WriterLeaseRow = WriterLeasesTable;
export type PromotionRow = PromotionsTable;
export type ModelSpendRow = ModelSpendTable;
export type ScheduleRow = SchedulesTable;
export type ScheduleFireRow = ScheduleFiresTable;

/** A stored schedule (see ScheduleRecord); `job_spec` is JSON. */
export interface SchedulesTable {
  id: string;
  name: string;
  kind: string;
  at: string | null;
  every_sec: number | null;
  cron: string | null;
  timezone: string | null;
  misfire: string;
  paused_at: string | null;
  job_spec: string;
  /** Who last set job_spec (migration 0011). */
  job_set_by: string;
  next_fire_at: string | null;
  created_by: string;
  created_at: string;
  updated_by: string;
  updated_at: string;
  version: number;
}

/** One fired or skipped slot; its primary key is what makes a slot fire at most once. */
export interface ScheduleFiresTable {
  schedule_id: string;
  trigger: string;
  slot_at: string;
  outcome: string;
  missed_slots: number;
  session_id: string | null;
  run_id: string | null;
  recorded_at: string;
  recorded_by: string;
}

/** One requirement of a run (`<kind>:<value>`): a claim skips runs with one its worker lacks. */
export interface RunRequirementsTable {
  run_id: string;
  kind: string;
  requirement: string;
}

export interface RemoteWorkersTable {
  id: string;
  name: string;
  /** JSON array of strings. */
  labels: string;
  /** JSON `{agents, sandbox}`. */
  capabilities: string;
  /** Lowercase hex SHA-256 of the worker's credential; the credential itself is never stored. */
  credential_sha256: string;
  enrolled_at: string;
  enrolled_by: string;
  revoked_at: string | null;
  last_seen_at: string | null;
  /** 0 or 1 in both dialects (portable integer, not boolean). */
  draining: number;
  /** The heartbeat on which the worker last said it is draining itself (migration 0009). */
  self_drain_reported_at: string | null;
}

export interface WorkerEnrolmentsTable {
  id: string;
  name: string;
  /** JSON array of strings. */
  labels: string;
  secret_sha256: string;
  created_at: string;
  created_by: string;
  expires_at: string;
  used_at: string | null;
  worker_id: string | null;
}

export type RemoteWorkerRow = RemoteWorkersTable;
export type WorkerEnrolmentRow = WorkerEnrolmentsTable;

/** A run's patch or log tail, readable by every replica (see migration 0007). */
export interface RunArtifactsTable {
  run_id: string;
  /** `patch`, or a log's API name such as `1.stdout.log`. */
  name: string;
  /** Digest of `content` (what is stored, which for a cut log is its tail). */
  sha256: string;
  bytes: number;
  /** Size before a log was cut to its tail; equal to `bytes` when nothing was cut. */
  original_bytes: number;
  content: Buffer;
  created_at: string;
}

/** A fenced write a remote worker made (see migration 0007): present = applied once. */
export interface LeaseWritesTable {
  run_id: string;
  fencing_token: number;
  write_seq: number;
  lease_owner: string;
}
