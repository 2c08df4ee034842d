import { z } from 'zod';
import { ALL_CODES, IdPrefix, isValidId } from '../kernel/index.js';
import {
  PathDecisionKind,
  PathOutcome,
  POLICY_FIELDS,
  POLICY_VALUE_SCHEMAS,
  type PolicyField,
} from '../policy/index.js';
import { WORKER_LABEL_PATTERN } from '../runner/index.js';
import { CHAIN_PROBLEM_KINDS } from '../sessions/index.js';
import { AttemptStatus, RUN_STATUSES, RunStatus, TokenRole } from '../store/index.js';
import { isStorableText } from './body-guard.js';
import { TOKEN_NAME_PATTERN } from './tokens.js';

/**
 * The wire shapes of the API. Every route validates and serialises with these, and the OpenAPI
 * document is generated from the same objects, so the documentation cannot drift from what the
 * server accepts and returns.
 */

const isoTime = z.string().describe('ISO-8601 UTC timestamp');

function idOf(prefix: IdPrefix, what: string) {
  return z
    .string()
    .refine((value) => isValidId(value, prefix), `not a ${what} id`)
    .describe(`${what} id: "${prefix}_" followed by 24 lowercase hex digits`);
}

/**
 * A whole number sent as text (a query parameter, a header), coerced and bounded; every way it
 * can be wrong (not a number, a fraction, out of range) gets the one message that says what to
 * send, instead of zod's "expected number, received NaN".
 */
export function wholeNumber(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: message }).int(message).min(min, message).max(max, message);
}

export const SessionIdSchema = idOf(IdPrefix.session, 'session');
export const RunIdSchema = idOf(IdPrefix.run, 'run');

/**
 * PostgreSQL's `integer`: every count and token that reaches such a column is bounded here, so a
 * larger number is refused as bad input (400) instead of failing in the database (it was a 500).
 */
const INT32_MAX = 2 ** 31 - 1;
const Int32Schema = z.number().int().min(0).max(INT32_MAX);
const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export const ErrorBodySchema = z
  .object({
    code: z.enum(ALL_CODES),
    message: z.string(),
    details: z
      .record(z.string(), z.unknown())
      .describe('`field` names the offending input; `hint` says what to do'),
  })
  .describe('Every non-2xx response');
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export const SubmitWarningSchema = z
  .object({ field: z.string(), message: z.string(), hint: z.string() })
  .describe(
    'Something about an accepted job its submitter should know; it was queued all the same',
  );
export type SubmitWarning = z.infer<typeof SubmitWarningSchema>;

export const SubmittedJobSchema = z.object({
  sessionId: z.string(),
  runId: z.string(),
  warnings: z
    .array(SubmitWarningSchema)
    .describe(
      'Empty, or what the submitter should know: no worker known to the server can claim the run now; a pull request repository the operator does not list',
    ),
});
export type SubmittedJob = z.infer<typeof SubmittedJobSchema>;

export const SessionSchema = z.object({
  id: z.string(),
  createdAt: isoTime,
  updatedAt: isoTime,
  task: z.string(),
  repo: z.string(),
  agent: z.string(),
  requestedBy: z.string(),
  labels: z.array(z.string()).readonly(),
  status: z.enum(RunStatus),
  reasonCode: z.string().nullable(),
  lastSeq: z.number().int(),
  lastHash: z.string(),
});

export const SessionListItemSchema = SessionSchema.extend({
  runId: z
    .string()
    .nullable()
    .describe("the session's latest run (every session has one run today)"),
}).describe('A session as lists and the live feed show it');

export const SessionVerificationSchema = z
  .object({
    sessionId: z.string(),
    ok: z
      .boolean()
      .describe(
        'every event hashes to its recorded hash, the chain is unbroken, and the tables agree with it',
      ),
    events: z.number().int().describe('events checked'),
    firstBrokenSeq: z.number().int().nullable().describe('where the chain first breaks'),
    kind: z.enum(CHAIN_PROBLEM_KINDS).nullable().describe('what broke there'),
    reason: z.string().nullable(),
    lastHash: z.string().describe('the chain head the session row records'),
    disagreements: z
      .array(z.string())
      .describe(
        "each way the session's tables (its requester; its runs' patch and status; their approvals) say other than its events, which only a change made outside AAS explains; checked when the chain is unbroken",
      ),
    tablesChecked: z
      .boolean()
      .describe(
        'false when only the chain was judged: it is broken, or the session kept changing while its tables were read (verify it again)',
      ),
  })
  .describe("The result of recomputing a session's hash chain");

export const RunSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  status: z.enum(RunStatus),
  reasonCode: z.string().nullable(),
  reasonDetail: z.string().nullable(),
  jobSpec: z.unknown(),
  baseRef: z.string().nullable(),
  baseCommit: z.string().nullable(),
  patchSha256: z.string().nullable(),
  summary: z.unknown(),
  createdAt: isoTime,
  updatedAt: isoTime,
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: isoTime.nullable(),
  version: z.number().int(),
  repo: z.string(),
  priority: z.number().int(),
  fencingToken: z.number().int(),
  claimCount: z.number().int(),
  maxClaims: z.number().int(),
  notBefore: isoTime.nullable(),
  cancelRequestedAt: isoTime.nullable(),
  cancelRequestedBy: z.string().nullable(),
});

export const ModelSpendSchema = z
  .object({
    calls: z.number().int().describe('calls forwarded to a provider'),
    inputTokens: z.number().int().describe('input tokens, cached ones included'),
    outputTokens: z.number().int(),
    cachedInputTokens: z.number().int(),
    costUsd: z.number().describe('US dollars, from the price table'),
  })
  .describe('What model calls through the gateway spent');

export const SessionSpendSchema = z
  .object({
    total: ModelSpendSchema,
    runs: z.array(z.object({ runId: z.string(), spend: ModelSpendSchema })),
  })
  .describe("The session's model spend, and each run's");

export const AttemptSchema = z.object({
  id: z.string(),
  runId: z.string(),
  number: z.number().int(),
  agentId: z.string(),
  status: z.enum(AttemptStatus),
  reasonCode: z.string().nullable(),
  startedAt: isoTime,
  finishedAt: isoTime.nullable(),
  detail: z.unknown(),
});

export const EventSchema = z.object({
  sessionId: z.string(),
  seq: z.number().int(),
  type: z.string(),
  at: isoTime,
  actor: z.string(),
  data: z.unknown(),
  prevHash: z.string(),
  hash: z.string(),
});

export const TokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(TokenRole),
    createdAt: isoTime,
    createdBy: z.string(),
    revokedAt: isoTime.nullable(),
  })
  .describe('An API token; its secret is shown once, at creation, and never again');

export const IdentitySchema = z.object({
  tokenId: z.string(),
  name: z.string(),
  role: z.enum(TokenRole),
});

export const WORKER_STATES = ['online', 'busy', 'draining', 'stale', 'offline'] as const;

export const WorkerCapabilitiesSchema = z
  .object({
    agents: z
      .array(z.string().min(1).max(64))
      .max(64)
      .readonly()
      .describe('agent ids whose CLIs are installed on the worker'),
    sandbox: z
      .array(z.string().min(1).max(64))
      .max(16)
      .readonly()
      .describe('sandbox backends usable there (bubblewrap, plain)'),
  })
  .strict();

export const WorkerSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['embedded', 'remote']),
    /** A remote worker's enrolled name; an embedded worker's id. */
    name: z.string(),
    state: z.enum(WORKER_STATES),
    labels: z.array(z.string()).readonly(),
    capabilities: WorkerCapabilitiesSchema.nullable(),
    /** The run it is working on (a remote worker may hold several: the oldest). */
    runId: z.string().nullable(),
    runIds: z.array(z.string()).readonly(),
    fencingToken: z.number().int().nullable(),
    leaseExpiresAt: isoTime.nullable(),
    lastHeartbeatAt: isoTime.nullable(),
    /** A remote worker's last claim or heartbeat; for an embedded one, the time of the answer. */
    lastSeenAt: isoTime.nullable(),
    enrolledAt: isoTime.nullable(),
    revokedAt: isoTime.nullable(),
    drainRequested: z
      .boolean()
      .describe(
        "an administrator's drain (POST /workers/{idOrName}/drain), kept until resumed, also " +
          "across the worker's restarts; false for embedded workers",
      ),
  })
  .describe(
    'online: reachable and idle; busy: holds a lease; draining: finishing, claims nothing; ' +
      'stale: a remote worker not seen for 60 s; offline: not seen for 5 min, revoked, or stopped',
  );

export const RemoteWorkerSchema = z.object({
  id: z.string(),
  name: z.string(),
  labels: z.array(z.string()).readonly(),
  capabilities: WorkerCapabilitiesSchema,
  enrolledAt: isoTime,
  enrolledBy: z.string(),
  revokedAt: isoTime.nullable(),
  lastSeenAt: isoTime.nullable(),
  draining: z.boolean(),
});

export const WorkerEnrolmentSchema = z.object({
  id: z.string(),
  name: z.string(),
  labels: z.array(z.string()).readonly(),
  createdAt: isoTime,
  createdBy: z.string(),
  expiresAt: isoTime,
  usedAt: isoTime.nullable(),
  workerId: z.string().nullable(),
});

const WorkerLabelSchema = z
  .string()
  .regex(WORKER_LABEL_PATTERN, 'use 1-64 of a-z 0-9 . _ -, starting with a letter or digit');

export const CreateEnrolmentBodySchema = z
  .object({
    name: z
      .string()
      .regex(TOKEN_NAME_PATTERN, 'use 1-64 of a-z 0-9 . _ -, starting with a letter or digit'),
    labels: z.array(WorkerLabelSchema).max(16).default([]),
    ttlSec: z
      .number()
      .int()
      .min(60)
      .max(7 * 86_400)
      .default(3_600)
      .describe('how long the one-time secret can be used; default 1 h'),
  })
  .strict();

export const RegisterWorkerBodySchema = z
  .object({
    enrolmentSecret: z.string().min(1).max(300).describe('the one-time secret, "aase_…"'),
    capabilities: WorkerCapabilitiesSchema,
  })
  .strict();

export const EnrolmentNameParamsSchema = z
  .object({
    name: z
      .string()
      .regex(TOKEN_NAME_PATTERN, 'not a worker name')
      .describe('the worker name the enrolments were made for'),
  })
  .strict();

export const WorkerRefParamsSchema = z
  .object({
    idOrName: z
      .string()
      .superRefine((value, context) => {
        if (isValidId(value, IdPrefix.worker) || TOKEN_NAME_PATTERN.test(value)) return;
        context.addIssue({
          code: 'custom',
          // What `aas workers` lists for a server's own slots: they are not remote workers.
          message: value.startsWith('worker:')
            ? "an embedded worker (a server's own slot) is drained and stopped with its server: send that `aas start` SIGTERM"
            : 'neither a worker id nor a worker name',
        });
      })
      .describe('worker id or name'),
  })
  .strict();

export const ClaimBodySchema = z
  .object({
    waitSec: z
      .number()
      .int()
      .min(0)
      .max(30)
      .default(25)
      .describe('how long to wait for work before answering 204'),
  })
  .strict();

export const WorkerLeaseSchema = z.object({
  runId: z.string(),
  sessionId: z.string(),
  claim: z.number().int().describe('this claim of the run: 1 = first'),
  maxClaims: z.number().int(),
  jobSpec: z.unknown(),
  repo: z.string().describe('the repository as the job named it'),
  baseRef: z.string().nullable(),
  baseCommit: z.string().nullable(),
  leaseExpiresAt: isoTime,
  fencingToken: z.number().int().describe('send with every heartbeat and the report'),
  leaseMs: z.number().int().describe('lease length: stop work that cannot be reported by then'),
  serverPolicy: z
    .object({ name: z.string(), source: z.string(), layer: z.unknown() })
    .nullable()
    .describe("the operator's policy layer, merged by the worker's runner as on the server"),
  budgets: z.object({
    sessionMaxCostUsd: z.number().optional(),
    repoDailyMaxCostUsd: z.number().optional(),
  }),
  basePackPath: z.string().describe('GET it (with ?have=<commit>…) for the base as a git pack'),
});

const LeaseEventSchema = z
  .object({
    type: z.string().min(1).max(100),
    at: isoTime,
    actor: z.string().max(200),
    data: z.unknown(),
  })
  .strict();
const WriteSeqSchema = z
  .number()
  .int()
  .min(1)
  .max(2 ** 31 - 1);
const LeaseEventsSchema = z.array(LeaseEventSchema).max(1_000);

export const LeaseOpBodySchema = z
  .object({
    fencingToken: Int32Schema,
    operation: z.discriminatedUnion('op', [
      z
        .object({
          op: z.literal('appendEvents'),
          writeSeq: WriteSeqSchema,
          events: LeaseEventsSchema,
        })
        .strict(),
      z
        .object({
          op: z.literal('updateRun'),
          writeSeq: WriteSeqSchema,
          changes: z
            .object({
              status: z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]]).optional(),
              reasonCode: z.string().max(100).nullable().optional(),
              reasonDetail: z.string().max(100_000).nullable().optional(),
              baseRef: z.string().max(1_000).nullable().optional(),
              baseCommit: z.string().max(64).nullable().optional(),
              patchSha256: z.string().regex(SHA256_PATTERN).nullable().optional(),
              summary: z.unknown().optional(),
              finishedAt: isoTime.nullable().optional(),
              leaseOwner: z.null().optional(),
              leaseExpiresAt: z.null().optional(),
            })
            .strict(),
          events: LeaseEventsSchema,
          expectStatus: z
            .array(z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]]))
            .max(10)
            .optional(),
        })
        .strict(),
      z
        .object({
          op: z.literal('createAttempt'),
          writeSeq: WriteSeqSchema,
          attempt: z
            .object({
              id: z.string().max(100),
              number: Int32Schema.min(1),
              agentId: z.string().max(200),
              startedAt: isoTime,
            })
            .strict(),
          events: LeaseEventsSchema,
        })
        .strict(),
      z
        .object({
          op: z.literal('finishAttempt'),
          writeSeq: WriteSeqSchema,
          attemptId: z.string().max(100),
          status: z.enum(['succeeded', 'failed', 'blocked']),
          reasonCode: z.string().max(100).nullable(),
          finishedAt: isoTime,
          detail: z.unknown(),
          events: LeaseEventsSchema,
        })
        .strict(),
      z.object({ op: z.literal('getRun') }).strict(),
      z.object({ op: z.literal('listAttempts') }).strict(),
      z
        .object({
          op: z.literal('modelSpend'),
          scope: z.union([
            z.enum(['run', 'session']),
            z.object({ fromIso: isoTime, toIso: isoTime }).strict(),
          ]),
        })
        .strict(),
    ]),
  })
  .strict();

export const LeaseOpReplySchema = z
  .object({ op: z.string() })
  .passthrough()
  .describe('per op: events (+ duplicate), run, attempts or spend');

export const ArtifactHeadersSchema = z
  .object({
    'x-aas-fencing-token': wholeNumber(0, INT32_MAX),
    'x-aas-sha256': z.string().regex(/^[0-9a-f]{64}$/),
    'x-aas-original-bytes': wholeNumber(0, INT32_MAX).optional(),
  })
  .passthrough();

export const BasePackQuerySchema = z
  .object({
    fencingToken: wholeNumber(0, INT32_MAX),
    have: z
      .union([
        z.string().regex(/^[0-9a-f]{40}$/),
        z.array(z.string().regex(/^[0-9a-f]{40}$/)).max(64),
      ])
      .optional()
      .describe('commits the worker already holds'),
  })
  .strict();

export const ArtifactParamsSchema = z
  .object({
    id: RunIdSchema,
    name: z
      .string()
      .regex(
        /^(?:patch|[1-9][0-9]{0,5}\.[a-z0-9][a-z0-9._-]{0,80})$/,
        'not an artifact name: give patch, or <attempt>.<file> for a log tail (e.g. 1.stdout.log; the file in lower-case letters, digits, ".", "_" and "-")',
      ),
  })
  .strict();

export const HeartbeatBodySchema = z
  .object({
    leases: z.array(z.object({ runId: RunIdSchema, fencingToken: Int32Schema }).strict()).max(64),
    draining: z
      .boolean()
      .optional()
      .describe(
        'the worker is draining itself (SIGTERM): shown as its state until it claims again; ' +
          "unlike an administrator's drain, not kept across its restarts",
      ),
  })
  .strict();

export const HeartbeatReplySchema = z.object({
  runs: z.array(z.object({ runId: z.string(), order: z.enum(['ok', 'cancel', 'lost']) })),
  drain: z.boolean().describe('finish what you hold and claim nothing more'),
});

export const ReportBodySchema = z
  .object({
    fencingToken: Int32Schema,
    status: z.enum(['human_review', 'blocked', 'failed', 'cancelled']),
    reasonCode: z.enum(ALL_CODES),
    detail: z.string().max(10_000).default(''),
  })
  .strict();

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  database: z.object({
    ok: z.boolean(),
    dialect: z.enum(['sqlite', 'postgres']),
    error: z.string().optional(),
  }),
  workers: z.object({
    total: z.number().int(),
    busy: z.number().int(),
    draining: z.number().int(),
  }),
});

/** A filter compared against stored text: what PostgreSQL cannot hold cannot match either. */
function filterText(maxLength: number) {
  return z
    .string()
    .min(1)
    .max(maxLength)
    .refine(isStorableText, 'must not contain U+0000 or an unpaired surrogate');
}

// Query strings arrive as text: numbers are coerced, then bounded. A seq is stored as a 32-bit
// integer (PostgreSQL `integer`), so a larger one is refused here rather than by the database.
const seqNumber = wholeNumber(0, INT32_MAX);

export const ListSessionsQuerySchema = z
  .object({
    status: z.enum(RunStatus).optional(),
    repo: filterText(4096).optional(),
    agent: filterText(256).optional(),
    label: filterText(64).optional(),
    requester: filterText(256).optional(),
    q: filterText(256)
      .optional()
      .describe(
        'substring of the task, repo, agent or requester; ASCII letters match either case, ' +
          'every other character (`%` and `_` too) only itself',
      ),
    cursor: z.string().min(1).max(128).optional().describe('`nextCursor` of the previous page'),
    limit: wholeNumber(1, 200).default(50),
  })
  .strict();

export const ReadEventsQuerySchema = z
  .object({
    after: seqNumber.default(0).describe('return events with a greater seq'),
    limit: wholeNumber(1, 1000).default(200),
  })
  .strict();

export const StreamEventsQuerySchema = z
  .object({
    after: seqNumber
      .optional()
      .describe('start after this seq (Last-Event-ID wins when both are sent)'),
  })
  .strict();

/** An event seq: the store's column is a 32-bit integer. */
const LAST_EVENT_ID_MESSAGE = `must be an event seq: a whole number from 0 to ${INT32_MAX}`;

export const StreamEventsHeadersSchema = z.looseObject({
  'last-event-id': z
    .string()
    .regex(/^\d{1,10}$/, LAST_EVENT_ID_MESSAGE)
    .refine((value) => Number(value) <= INT32_MAX, LAST_EVENT_ID_MESSAGE)
    .optional()
    .describe('seq of the last event received: the stream resumes after it'),
});

/** A path to explain, as given: explainPolicy itself says why one is not a valid repo path. */
const explainedPath = filterText(1024);

export const RunPolicyQuerySchema = z
  .object({
    path: z
      .union([explainedPath, z.array(explainedPath)])
      // Outside the union: a union that fails says only "Invalid input".
      .refine(
        (paths) => typeof paths === 'string' || paths.length <= 50,
        'at most 50 paths per request; ask for the rest in another',
      )
      .optional()
      .describe('a repo-relative path to decide; repeat the parameter for more (at most 50)'),
  })
  .strict();

/** One value per field, its shape given by the field. */
function explainedValue<F extends PolicyField>(field: F) {
  return z.object({
    field: z.literal(field),
    value: POLICY_VALUE_SCHEMAS[field],
    display: z.string().describe('the value as `aas policy explain` prints it'),
    decidedBy: z
      .array(z.string())
      .describe('the layers whose settings produced the value; empty: the built-in default'),
  });
}

const [firstField, ...otherFields] = POLICY_FIELDS;
export const ExplainedValueSchema = z.discriminatedUnion('field', [
  explainedValue(firstField),
  ...otherFields.map((field) => explainedValue(field)),
]);

export const PathDecisionSchema = z.object({
  path: z.string().describe('normalised when valid, otherwise as given'),
  allowed: z.boolean(),
  kind: z.enum(PathDecisionKind),
  layer: z.string().optional().describe('the layer behind a denial'),
  rule: z.string().optional().describe('the deny glob, or the allow-list that missed'),
  reason: z.string(),
});

export const ExplainedPathSchema = z.object({
  path: z.string(),
  outcome: z
    .enum(PathOutcome)
    .describe('drop: a runtime artifact, removed from the patch before any gate'),
  decision: PathDecisionSchema,
  runtime: z
    .object({ layer: z.string(), rule: z.string() })
    .nullable()
    .describe('the runtime rule that drops the path'),
  decidedBy: z
    .array(z.string())
    .describe(
      'the layers behind the outcome: the runtime rule’s for drop, the denying layer for ' +
        'deny (none for an invalid path or git metadata), every layer with an allow-list for ' +
        'allow (none: no layer restricts paths)',
    ),
});

export const RunPolicySchema = z
  .object({
    runId: z.string(),
    sessionId: z.string(),
    agentId: z.string().describe('the agent whose policy this is: the latest one resolved'),
    agents: z
      .array(z.string())
      .describe('every agent the run resolved a policy for, in order (primary, then fallbacks)'),
    seq: z.number().int().describe('seq of the policy.resolved event explained'),
    resolvedAt: isoTime,
    layers: z
      .array(z.object({ name: z.string(), source: z.string() }))
      .describe('merge order; the floor first'),
    values: z.array(ExplainedValueSchema),
    unrecorded: z
      .array(z.enum(POLICY_FIELDS))
      .describe('fields the AAS that ran the run did not record yet; absent from `values`'),
    paths: z.array(ExplainedPathSchema).describe('one per `path` parameter, in order'),
  })
  .describe("A run's effective policy, explained");

/** Routes without query parameters refuse any, as every schema here refuses unknown fields. */
export const NoQuerySchema = z.object({}).strict();

export const SessionParamsSchema = z.object({ id: SessionIdSchema }).strict();
export const RunParamsSchema = z.object({ id: RunIdSchema }).strict();

/** `<attempt>.stdout.log`, `<attempt>.stderr.log`, `<attempt>.validator-<n>.(stdout|stderr).log`. */
export const LOG_NAME_PATTERN =
  /^([1-9][0-9]{0,3})\.((?:validator-[1-9][0-9]{0,2}\.)?(?:stdout|stderr)\.log)$/;

export const RunLogParamsSchema = z
  .object({
    id: RunIdSchema,
    name: z
      .string()
      .regex(
        LOG_NAME_PATTERN,
        'not a log name: give <attempt>.stdout.log, <attempt>.stderr.log, <attempt>.validator-<n>.stdout.log or <attempt>.validator-<n>.stderr.log (e.g. 1.stdout.log)',
      )
      .describe(
        '`<attempt>.stdout.log`, `<attempt>.stderr.log` or `<attempt>.validator-<n>.stdout.log`',
      ),
  })
  .strict();

export const TokenRefParamsSchema = z
  .object({
    idOrName: z
      .string()
      .refine(
        (value) => isValidId(value, IdPrefix.token) || TOKEN_NAME_PATTERN.test(value),
        'neither a token id nor a token name',
      )
      .describe('token id or name'),
  })
  .strict();

export const CreateTokenBodySchema = z
  .object({
    name: z
      .string()
      .regex(TOKEN_NAME_PATTERN, 'use 1-64 of a-z 0-9 . _ -, starting with a letter or digit'),
    // Not `worker`: a remote worker's only credential is its own (POST /workers/register).
    role: z.enum([TokenRole.viewer, TokenRole.operator, TokenRole.approver, TokenRole.admin]),
  })
  .strict();

/**
 * Shapes that appear in many operations, published once under `components.schemas` of the
 * OpenAPI document and referenced from each operation.
 */
export const apiSchemaRegistry = z.registry<{ id?: string; [key: string]: unknown }>();
for (const [id, schema] of [
  ['Error', ErrorBodySchema],
  ['Session', SessionSchema],
  ['SessionListItem', SessionListItemSchema],
  ['SessionVerification', SessionVerificationSchema],
  ['RunPolicy', RunPolicySchema],
  ['Run', RunSchema],
  ['Attempt', AttemptSchema],
  ['ModelSpend', ModelSpendSchema],
  ['Event', EventSchema],
  ['Token', TokenSchema],
  ['Identity', IdentitySchema],
  ['Worker', WorkerSchema],
  ['Health', HealthSchema],
] as const) {
  apiSchemaRegistry.add(schema, { id });
}

export const ApprovalSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    sessionId: z.string(),
    attemptNumber: z.number().int(),
    patchSha256: z.string(),
    repo: z.string(),
    targetBranch: z.string(),
    decision: z.enum(['approved', 'rejected']),
    note: z.string().nullable(),
    decidedBy: z.string(),
    tokenId: z.string().nullable(),
    createdAt: isoTime,
    expiresAt: isoTime,
    voidedAt: isoTime.nullable(),
    voidReason: z.string().nullable(),
    state: z
      .enum(['standing', 'rejected', 'voided', 'expired'])
      .describe('standing: an approval that is live; the others never count'),
  })
  .describe('A decision on one run’s exact patch (by digest) for one target branch');

export const DecideBodySchema = z
  .object({
    // Said, never assumed: an empty body approving a patch would be a decision nobody made.
    decision: z.enum(['approved', 'rejected']),
    note: z.string().max(4_000).nullable().default(null),
    expiresInSec: z
      .number()
      .int()
      .min(60)
      .max(31_536_000)
      .optional()
      .describe("how long the approval counts; at most the server's AAS_APPROVAL_TTL_SEC"),
  })
  .strict();

export const ListApprovalsQuerySchema = z
  .object({
    status: z.enum(['standing', 'rejected', 'voided', 'expired']).optional(),
    limit: wholeNumber(1, 500).default(100),
  })
  .strict();

export const PromoteBodySchema = z
  .object({
    mode: z
      .enum(['patch', 'branch', 'draft_pr'])
      .optional()
      .describe(
        "overrides the job's promotion.mode for a first request (refused with PREFLIGHT_FAILED, not lowered, when it cannot be had); a retry keeps the first",
      ),
  })
  .strict();

export const PreflightCheckSchema = z.object({
  name: z.string(),
  ok: z.boolean(),
  detail: z.string(),
});

export const PromotionResultSchema = z.object({
  runId: z.string(),
  status: z.enum(RunStatus),
  requestedMode: z.string(),
  mode: z.string(),
  branch: z.string().nullable(),
  commitSha: z.string().nullable(),
  prUrl: z.string().nullable(),
  attestationSha256: z.string(),
  checks: z.array(PreflightCheckSchema).readonly(),
  fallbacks: z.array(z.object({ from: z.string(), to: z.string(), reason: z.string() })).readonly(),
  prError: z.string().nullable(),
  alreadyPromoted: z
    .boolean()
    .describe(
      'true: promoted before this request, which did nothing; the result is the recorded one',
    ),
  promotedAt: z.string(),
  promotedBy: z.string(),
});

export const PromotionRecordSchema = z.object({
  runId: z.string(),
  sessionId: z.string(),
  requestedMode: z.string(),
  mode: z.string().nullable(),
  state: z.string(),
  requestedBy: z.string(),
  targetBranch: z.string(),
  branch: z.string().nullable(),
  remote: z.string().nullable(),
  commitSha: z.string().nullable(),
  prUrl: z.string().nullable(),
  attestationSha256: z.string().nullable(),
  startedAt: isoTime,
  updatedAt: isoTime,
  detail: z.unknown(),
  version: z.number().int(),
});

apiSchemaRegistry.add(ApprovalSchema, { id: 'Approval' });
apiSchemaRegistry.add(PromotionResultSchema, { id: 'PromotionResult' });
