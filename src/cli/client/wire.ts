import { z } from 'zod';
import {
  type AttemptRecord,
  CHAIN_PROBLEM_KINDS,
  type RunRecord,
  type SessionRecord,
  type StoredEvent,
} from '../../sessions/index.js';

/**
 * What the client reads from the server's answers. Each shape checks the fields the CLI uses
 * and keeps the rest as sent, so a newer server's extra fields still reach `--json` output.
 */

const nullableString = z.string().nullable();

export const ErrorBodyWire = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).nullish(),
});

export const StoredEventWire = z.looseObject({
  sessionId: z.string(),
  seq: z.number().int().min(0),
  type: z.string(),
  at: z.string(),
  actor: z.string(),
  data: z.unknown(),
  prevHash: z.string(),
  hash: z.string(),
});

export const SessionWire = z.looseObject({
  id: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  task: z.string(),
  repo: z.string(),
  agent: z.string(),
  requestedBy: z.string(),
  labels: z.array(z.string()),
  status: z.string(),
  reasonCode: nullableString,
  lastSeq: z.number().int(),
  lastHash: z.string(),
});

export const RunWire = z.looseObject({
  id: z.string(),
  sessionId: z.string(),
  status: z.string(),
  reasonCode: nullableString,
  reasonDetail: nullableString,
  baseRef: nullableString,
  baseCommit: nullableString,
  patchSha256: nullableString,
  summary: z.unknown(),
  leaseOwner: nullableString.optional(),
  leaseExpiresAt: nullableString.optional(),
});

export const AttemptWire = z.looseObject({
  id: z.string(),
  runId: z.string(),
  number: z.number().int(),
  agentId: z.string(),
  status: z.string(),
  reasonCode: nullableString,
});

const SubmitWarningsWire = z
  .array(z.object({ field: z.string(), message: z.string(), hint: z.string().optional() }))
  // Absent from servers older than the field.
  .default([]);

export const SubmittedWire = z.object({
  sessionId: z.string(),
  runId: z.string(),
  warnings: SubmitWarningsWire,
});

export const TokenWire = z.looseObject({
  id: z.string(),
  name: z.string(),
  role: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  revokedAt: nullableString,
});
export const TokenListWire = z.object({ items: z.array(TokenWire) });
export const IssuedTokenWire = z.object({ token: TokenWire, secret: z.string() });
export type TokenView = z.infer<typeof TokenWire>;

export const WorkerWire = z.looseObject({
  id: z.string(),
  kind: z.string(),
  name: z.string(),
  state: z.string(),
  labels: z.array(z.string()),
  runIds: z.array(z.string()),
  lastSeenAt: nullableString,
  revokedAt: nullableString,
});
export const WorkerListWire = z.object({ items: z.array(WorkerWire) });
export type WorkerView = z.infer<typeof WorkerWire>;
export const RemoteWorkerWire = z.looseObject({
  id: z.string(),
  name: z.string(),
  revokedAt: nullableString,
  draining: z.boolean(),
});
const EnrolmentRecordWire = z.looseObject({
  id: z.string(),
  name: z.string(),
  labels: z.array(z.string()),
  createdAt: z.string(),
  createdBy: z.string(),
  expiresAt: z.string(),
});
export const EnrolmentWire = z.object({ enrolment: EnrolmentRecordWire, secret: z.string() });
export const EnrolmentListWire = z.object({ items: z.array(EnrolmentRecordWire) });
export const WithdrawnEnrolmentsWire = z.object({ withdrawn: z.array(EnrolmentRecordWire) });

export const SessionPageWire = z.object({
  items: z.array(SessionWire),
  nextCursor: z.string().nullable().optional(),
});

export const EventPageWire = z.object({
  items: z.array(StoredEventWire),
  nextAfter: z.number().int().nullable().optional(),
});

export const ModelSpendWire = z.looseObject({
  calls: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  cachedInputTokens: z.number(),
  costUsd: z.number(),
});

/** Absent from servers that predate spend reporting. */
export const SessionSpendWire = z.looseObject({
  total: ModelSpendWire,
  runs: z.array(z.looseObject({ runId: z.string(), spend: ModelSpendWire })),
});

/** `GET /sessions/{id}`: the session's fields with its runs, or the two side by side. */
export const SessionViewWire = SessionWire.extend({
  runs: z.array(RunWire),
  spend: SessionSpendWire.optional(),
});
export const NestedSessionViewWire = z.looseObject({
  session: SessionWire,
  runs: z.array(RunWire),
  spend: SessionSpendWire.optional(),
});

/** `GET /runs/{id}`: the run's fields with its attempts, or the two side by side. */
export const RunViewWire = RunWire.extend({ attempts: z.array(AttemptWire) });
export const NestedRunViewWire = z.looseObject({ run: RunWire, attempts: z.array(AttemptWire) });

/** The part of a run's stored summary the CLI prints: the runner's outcome. */
export const RunSummaryWire = z.looseObject({
  detail: z.string().optional(),
  attempts: z.number().int().optional(),
  patch: z
    .looseObject({
      sha256: z.string(),
      path: z.string(),
      stats: z.looseObject({
        filesChanged: z.number(),
        insertions: z.number(),
        deletions: z.number(),
        patchLines: z.number(),
      }),
      files: z.array(
        z.object({
          path: z.string(),
          status: z.string(),
          insertions: z.number(),
          deletions: z.number(),
          binary: z.boolean(),
        }),
      ),
    })
    .nullable()
    .optional(),
});

// The wire shapes check what the CLI reads; the records' enum fields are the server's to keep.
export const asEvent = (value: z.infer<typeof StoredEventWire>): StoredEvent =>
  value as StoredEvent;
export const asSession = (value: z.infer<typeof SessionWire>): SessionRecord =>
  value as unknown as SessionRecord;
export const asRun = (value: z.infer<typeof RunWire>): RunRecord => value as unknown as RunRecord;
export const asAttempt = (value: z.infer<typeof AttemptWire>): AttemptRecord =>
  value as unknown as AttemptRecord;

export const ApprovalWire = z.looseObject({
  id: z.string(),
  runId: z.string(),
  decision: z.string(),
  decidedBy: z.string(),
  note: nullableString,
  patchSha256: z.string(),
  targetBranch: z.string(),
  attemptNumber: z.number().int(),
  createdAt: z.string(),
  expiresAt: z.string(),
  state: z.string(),
});
export type ApprovalWireView = z.infer<typeof ApprovalWire>;
export const DecisionWire = z.object({ approval: ApprovalWire, run: RunWire });
export const ApprovalListWire = z.object({ items: z.array(ApprovalWire) });
export const RunApprovalsWire = z.object({
  runId: z.string(),
  targetBranch: z.string(),
  required: z.number().int(),
  counted: z.number().int(),
  items: z.array(ApprovalWire.extend({ counts: z.boolean(), reason: z.string() })),
});
export type RunApprovalsView = z.infer<typeof RunApprovalsWire>;
export const PromotionResultWire = z.looseObject({
  runId: z.string(),
  status: z.string(),
  requestedMode: z.string(),
  mode: z.string(),
  branch: nullableString,
  commitSha: nullableString,
  prUrl: nullableString,
  attestationSha256: z.string(),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })),
  fallbacks: z.array(z.object({ from: z.string(), to: z.string(), reason: z.string() })),
  prError: nullableString,
  // Absent from servers older than the fields: their answers are never marked as a repeat.
  alreadyPromoted: z.boolean().default(false),
  promotedAt: z.string().default(''),
  promotedBy: z.string().default(''),
});
export type PromotionResultView = z.infer<typeof PromotionResultWire>;
export const KeysWire = z.object({
  keys: z.array(z.looseObject({ keyId: z.string(), publicKeyPem: z.string() })),
});

export const ScheduleWire = z.looseObject({
  id: z.string(),
  name: z.string(),
  timing: z.looseObject({ kind: z.string() }),
  misfire: z.string(),
  state: z.string(),
  pausedAt: nullableString,
  nextFireAt: nullableString,
  job: z.unknown(),
  // Absent from servers older than the job's own author: their runs are the creator's.
  jobSetBy: z.string().optional(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedBy: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
});
export type ScheduleWireView = z.infer<typeof ScheduleWire>;
/** A schedule as created or changed, with what the runs it fires will meet. */
export const ScheduleWrittenWire = ScheduleWire.extend({ warnings: SubmitWarningsWire });
export type ScheduleWrittenView = z.infer<typeof ScheduleWrittenWire>;
export const ScheduleListWire = z.object({ items: z.array(ScheduleWire) });
export const ScheduleFireWire = z.looseObject({
  scheduleId: z.string(),
  trigger: z.string(),
  slotAt: z.string(),
  outcome: z.string(),
  missedSlots: z.number().int(),
  sessionId: nullableString,
  runId: nullableString,
  recordedAt: z.string(),
  recordedBy: z.string(),
});
export type ScheduleFireWireView = z.infer<typeof ScheduleFireWire>;
export const ScheduleDetailWire = z.object({
  schedule: ScheduleWire,
  fires: z.array(ScheduleFireWire),
});
export const TriggeredWire = z.looseObject({
  scheduleId: z.string(),
  sessionId: z.string(),
  runId: z.string(),
  slotAt: z.string(),
});
export const PreviewWire = z.looseObject({
  scheduleId: z.string(),
  name: z.string(),
  times: z.array(z.string()),
});

export const RegisteredWorkerWire = z.object({ worker: RemoteWorkerWire, credential: z.string() });

export const LeaseGrantWire = z.looseObject({
  runId: z.string(),
  sessionId: z.string(),
  claim: z.number().int(),
  maxClaims: z.number().int(),
  jobSpec: z.unknown(),
  repo: z.string(),
  baseRef: nullableString,
  baseCommit: nullableString,
  leaseExpiresAt: z.string(),
  fencingToken: z.number().int(),
  leaseMs: z.number().int().positive(),
  serverPolicy: z.object({ name: z.string(), source: z.string(), layer: z.unknown() }).nullable(),
  budgets: z.object({
    sessionMaxCostUsd: z.number().optional(),
    repoDailyMaxCostUsd: z.number().optional(),
  }),
});
export type LeaseGrantView = z.infer<typeof LeaseGrantWire>;

export const HeartbeatReplyWire = z.object({
  runs: z.array(z.object({ runId: z.string(), order: z.enum(['ok', 'cancel', 'lost']) })),
  drain: z.boolean(),
});

/** `GET /sessions/{id}/verify`. */
export const SessionVerificationWire = z.object({
  ok: z.boolean(),
  events: z.number().int(),
  firstBrokenSeq: z.number().int().nullable(),
  kind: z.enum(CHAIN_PROBLEM_KINDS).nullable(),
  reason: z.string().nullable(),
  /** Absent from servers that held only the chain to account. */
  disagreements: z.array(z.string()).default([]),
  lastHash: z.string().default(''),
  tablesChecked: z.boolean().default(false),
});

/** `POST /runs/{id}/cancel`. */
export const CancelWire = z.object({
  runId: z.string(),
  outcome: z.enum(['cancelled', 'cancel_requested']),
  status: z.string(),
});
