import type { Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type {
  ApprovalRow,
  DatabaseSchema,
  PromotionRow,
  WriterLeaseRow,
} from './database-schema.js';
import {
  APPROVAL_DECISIONS,
  type ApprovalDecision,
  type ApprovalRecord,
  type NewApproval,
  type NewEvent,
  type NewPromotion,
  type PromotionChanges,
  type PromotionRecord,
  RUN_STATUSES,
  type RunChanges,
  type RunRecord,
  type RunStatus,
  type StoredEvent,
  type WriterLeaseFence,
  type WriterLeaseRecord,
} from './records.js';
import { parseJsonColumn, runFromRow } from './row-mappers.js';
import { runConflict, runUpdatedAt } from './run-changes.js';
import { runUpdateStatement } from './run-update-statement.js';
import { appendToLockedHead, lockSessionHead } from './session-head.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';

const ALL_RUN_STATUSES: readonly RunStatus[] = RUN_STATUSES;

/** What a run must look like for a decision or a promotion step to be recorded against it. */
export interface RunGuard {
  readonly status: readonly RunStatus[];
  /** The run's recorded patch digest must equal this. */
  readonly patchSha256?: string;
  /** The run's latest attempt must be this one. */
  readonly attemptNumber?: number;
}

export function approvalFromRow(row: ApprovalRow): ApprovalRecord {
  return {
    id: row.id,
    runId: row.run_id,
    sessionId: row.session_id,
    attemptNumber: row.attempt_number,
    patchSha256: row.patch_sha256,
    repo: row.repo,
    targetBranch: row.target_branch,
    decision: parseDecision(row.decision),
    note: row.note,
    decidedBy: row.decided_by,
    tokenId: row.token_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    voidedAt: row.voided_at,
    voidReason: row.void_reason,
  };
}

function parseDecision(value: string): ApprovalDecision {
  const decision = APPROVAL_DECISIONS.find((known) => known === value);
  if (decision === undefined) {
    throw new AasError('INTERNAL', `approvals.decision holds an unknown value "${value}"`);
  }
  return decision;
}

export function writerLeaseFromRow(row: WriterLeaseRow): WriterLeaseRecord {
  return {
    key: row.key,
    owner: row.owner,
    runId: row.run_id,
    fencingToken: row.fencing_token,
    acquiredAt: row.acquired_at,
    expiresAt: row.expires_at,
  };
}

export function promotionFromRow(row: PromotionRow): PromotionRecord {
  return {
    runId: row.run_id,
    sessionId: row.session_id,
    requestedMode: row.requested_mode,
    mode: row.mode,
    state: row.state,
    requestedBy: row.requested_by,
    targetBranch: row.target_branch,
    branch: row.branch,
    remote: row.remote,
    commitSha: row.commit_sha,
    prUrl: row.pr_url,
    attestationSha256: row.attestation_sha256,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    detail: parseJsonColumn(row.detail, 'promotions.detail'),
    version: row.version,
  };
}

/** Checks the run under the session lock already taken; CONFLICT explains a mismatch. */
function* checkRunGuard(
  db: Kysely<DatabaseSchema>,
  runId: string,
  guard: RunGuard,
): SqlOperation<RunRecord> {
  const [row] = yield* rowsOf(db.selectFrom('runs').selectAll().where('id', '=', runId).compile());
  if (row === undefined) throw new AasError('NOT_FOUND', `no run with id ${runId}`, { runId });
  const run = runFromRow(row);
  if (!guard.status.includes(run.status)) {
    throw runConflict(runId, run, { status: guard.status });
  }
  if (guard.patchSha256 !== undefined && run.patchSha256 !== guard.patchSha256) {
    throw new AasError(
      'CONFLICT',
      `run ${runId}'s patch is ${run.patchSha256 ?? 'none'}, not ${guard.patchSha256}`,
      { runId, actualPatchSha256: run.patchSha256, expectedPatchSha256: guard.patchSha256 },
    );
  }
  if (guard.attemptNumber !== undefined) {
    const [latest] = yield* rowsOf(
      db
        .selectFrom('attempts')
        .select((eb) => eb.fn.max('number').as('latest'))
        .where('run_id', '=', runId)
        .compile(),
    );
    const latestNumber = latest?.latest === null ? null : Number(latest?.latest);
    if (latestNumber !== guard.attemptNumber) {
      throw new AasError(
        'CONFLICT',
        `run ${runId}'s latest attempt is ${latestNumber ?? 'none'}, not ${guard.attemptNumber}`,
        { runId, actualAttempt: latestNumber, expectedAttempt: guard.attemptNumber },
      );
    }
  }
  return run;
}

/** Applies run changes under the guard already checked; returns the updated run. */
function* changeRun(
  db: Kysely<DatabaseSchema>,
  run: RunRecord,
  changes: RunChanges,
  events: readonly NewEvent[],
): SqlOperation<RunRecord> {
  const [row] = yield* rowsOf(
    runUpdateStatement(db, run.id, changes, runUpdatedAt(changes, events), {
      version: run.version,
    }),
  );
  if (row === undefined) throw runConflict(run.id, run, { version: run.version });
  return runFromRow(row);
}

/**
 * Records a decision: the run must still be in `guard.status`, with exactly this patch and
 * attempt, so a decision on a digest the run no longer has is refused rather than stored; and
 * its approver must have no standing decision on that patch (an unexpired approval, or a
 * rejection), so one identity decides once however many requests it sends at the same time.
 */
export function* recordApproval(
  db: Kysely<DatabaseSchema>,
  input: {
    approval: NewApproval;
    guard: RunGuard;
    runChanges?: RunChanges;
    events: readonly NewEvent[];
  },
): SqlOperation<{ approval: ApprovalRecord; run: RunRecord; events: StoredEvent[] }> {
  const { approval, events } = input;
  const head = yield* lockSessionHead(db, { runId: approval.runId }, events);
  if (head === null) throw new AasError('NOT_FOUND', `no run with id ${approval.runId}`);
  let run = yield* checkRunGuard(db, approval.runId, input.guard);
  // Checked here, under the session row lock taken above (PostgreSQL blocks a concurrent
  // decision on the same run there; SQLite's write transactions are serial): checked before
  // the transaction, eight simultaneous requests from one approver each saw none and all
  // recorded, and an approval and a rejection of one patch could both stand.
  const [standing] = yield* rowsOf(
    db
      .selectFrom('approvals')
      .select(['id', 'decision'])
      .where('run_id', '=', approval.runId)
      .where('decided_by', '=', approval.decidedBy)
      .where('patch_sha256', '=', approval.patchSha256)
      .where('voided_at', 'is', null)
      // An approval that expired no longer stands: its approver may approve the patch again.
      .where((eb) =>
        eb.or([eb('decision', '=', 'rejected'), eb('expires_at', '>', approval.createdAt)]),
      )
      .limit(1)
      .compile(),
  );
  if (standing !== undefined) {
    throw new AasError(
      'CONFLICT',
      `${approval.decidedBy} already ${standing.decision} this patch (${standing.id})`,
      { runId: approval.runId, approvalId: standing.id },
    );
  }
  const [row] = yield* rowsOf(
    db
      .insertInto('approvals')
      .values({
        id: approval.id,
        run_id: approval.runId,
        session_id: head.sessionId,
        attempt_number: approval.attemptNumber,
        patch_sha256: approval.patchSha256,
        repo: approval.repo,
        target_branch: approval.targetBranch,
        decision: approval.decision,
        note: approval.note,
        decided_by: approval.decidedBy,
        token_id: approval.tokenId,
        created_at: approval.createdAt,
        expires_at: approval.expiresAt,
        voided_at: null,
        void_reason: null,
      })
      .returningAll()
      .compile(),
  );
  if (row === undefined) throw new AasError('INTERNAL', 'the approval insert returned no row');
  let changed: RunRecord | null = null;
  if (input.runChanges !== undefined) {
    changed = yield* changeRun(db, run, input.runChanges, events);
    run = changed;
  }
  const stored = yield* appendToLockedHead(
    db,
    head,
    events,
    changed === null ? undefined : { status: changed.status, reason_code: changed.reasonCode },
  );
  return { approval: approvalFromRow(row), run, events: stored };
}

/**
 * Voids every standing approval of a run (a new attempt, a changed patch). Runs inside the
 * caller's transaction; returns the ids voided.
 */
export function* voidApprovals(
  db: Kysely<DatabaseSchema>,
  runId: string,
  at: string,
  reason: string,
): SqlOperation<string[]> {
  const rows = yield* rowsOf(
    db
      .updateTable('approvals')
      .set({ voided_at: at, void_reason: reason })
      .where('run_id', '=', runId)
      .where('voided_at', 'is', null)
      .returning('id')
      .compile(),
  );
  return rows.map((row) => row.id);
}

/**
 * Takes the lease of `key` when it is free, expired, or already this owner's; every
 * acquisition increments the fencing token. Null when another owner holds it unexpired.
 * One statement: the conflict check and the takeover cannot interleave with a rival's.
 */
export function* acquireWriterLease(
  db: Kysely<DatabaseSchema>,
  input: { key: string; owner: string; runId: string | null; nowIso: string; expiresAt: string },
): SqlOperation<WriterLeaseRecord | null> {
  const [row] = yield* rowsOf(
    db
      .insertInto('writer_leases')
      .values({
        key: input.key,
        owner: input.owner,
        run_id: input.runId,
        fencing_token: 1,
        acquired_at: input.nowIso,
        expires_at: input.expiresAt,
      })
      .onConflict((conflict) =>
        conflict
          .column('key')
          .doUpdateSet((eb) => ({
            owner: eb.ref('excluded.owner'),
            run_id: eb.ref('excluded.run_id'),
            fencing_token: eb('writer_leases.fencing_token', '+', 1),
            acquired_at: eb.ref('excluded.acquired_at'),
            expires_at: eb.ref('excluded.expires_at'),
          }))
          .where((eb) =>
            eb.or([
              eb('writer_leases.expires_at', '<=', input.nowIso),
              eb('writer_leases.owner', '=', input.owner),
            ]),
          ),
      )
      .returningAll()
      .compile(),
  );
  return row === undefined ? null : writerLeaseFromRow(row);
}

/** Extends the lease while `fence` still holds it unexpired; false when it was lost. */
export function* renewWriterLease(
  db: Kysely<DatabaseSchema>,
  fence: WriterLeaseFence,
  nowIso: string,
  expiresAt: string,
): SqlOperation<boolean> {
  const rows = yield* rowsOf(
    db
      .updateTable('writer_leases')
      .set({ expires_at: expiresAt })
      .where('key', '=', fence.key)
      .where('owner', '=', fence.owner)
      .where('fencing_token', '=', fence.fencingToken)
      .where('expires_at', '>', nowIso)
      .returning('key')
      .compile(),
  );
  return rows.length > 0;
}

/** Gives the lease up at once (it expires now) if `fence` still holds it. */
export function* releaseWriterLease(
  db: Kysely<DatabaseSchema>,
  fence: WriterLeaseFence,
  nowIso: string,
): SqlOperation<boolean> {
  const rows = yield* rowsOf(
    db
      .updateTable('writer_leases')
      .set({ expires_at: nowIso })
      .where('key', '=', fence.key)
      .where('owner', '=', fence.owner)
      .where('fencing_token', '=', fence.fencingToken)
      .returning('key')
      .compile(),
  );
  return rows.length > 0;
}

function* checkWriterLease(
  db: Kysely<DatabaseSchema>,
  fence: WriterLeaseFence,
  nowIso: string,
): SqlOperation<void> {
  // An UPDATE, not a SELECT: it takes the lease row's lock (PostgreSQL; SQLite holds the whole
  // write lock already), so no rival can acquire the lease between this check and the commit
  // of the step it guards.
  const held = yield* rowsOf(
    db
      .updateTable('writer_leases')
      .set((eb) => ({ expires_at: eb.ref('expires_at') }))
      .where('key', '=', fence.key)
      .where('owner', '=', fence.owner)
      .where('fencing_token', '=', fence.fencingToken)
      .where('expires_at', '>', nowIso)
      .returning('key')
      .compile(),
  );
  if (held.length > 0) return;
  const [row] = yield* rowsOf(
    db.selectFrom('writer_leases').selectAll().where('key', '=', fence.key).compile(),
  );
  throw new AasError(
    'LEASE_FENCED',
    `the writer lease of ${describeLeaseKey(fence.key)} is no longer held by ${fence.owner} under token ${fence.fencingToken} (now: ${row?.owner ?? 'none'}, token ${row?.fencing_token ?? 0}, expires ${row?.expires_at ?? '-'})`,
    {
      leaseKey: fence.key,
      expectedOwner: fence.owner,
      expectedFencingToken: fence.fencingToken,
      actualOwner: row?.owner ?? null,
      actualFencingToken: row?.fencing_token ?? null,
    },
  );
}

/**
 * The key of a promotion target: `<branch> <repo>`. A git ref name cannot hold a space, so the
 * first space always separates the two, whatever the repository path holds.
 */
export function writerLeaseKey(repo: string, branch: string): string {
  return `${branch} ${repo}`;
}

/** A lease key as people read it. */
export function describeLeaseKey(key: string): string {
  const space = key.indexOf(' ');
  return space < 0 ? key : `${key.slice(0, space)} of ${key.slice(space + 1)}`;
}

/**
 * One promotion step, atomically: checks the writer lease (when given) and the run guard,
 * creates or changes the promotion record, changes the run, and appends the step's events.
 * With `create`, an existing record is kept as it is (a retry resumes it).
 */
export function* recordPromotionStep(
  db: Kysely<DatabaseSchema>,
  input: {
    runId: string;
    lease?: { fence: WriterLeaseFence; nowIso: string };
    guard?: RunGuard;
    create?: NewPromotion;
    changes?: PromotionChanges;
    expectVersion?: number;
    runChanges?: RunChanges;
    updatedAt: string;
    events: readonly NewEvent[];
  },
): SqlOperation<{ promotion: PromotionRecord; run: RunRecord; events: StoredEvent[] }> {
  const head = yield* lockSessionHead(db, { runId: input.runId }, input.events);
  if (head === null) throw new AasError('NOT_FOUND', `no run with id ${input.runId}`);
  if (input.lease !== undefined) yield* checkWriterLease(db, input.lease.fence, input.lease.nowIso);
  let run = yield* checkRunGuard(db, input.runId, input.guard ?? { status: ALL_RUN_STATUSES });
  const [existing] = yield* rowsOf(
    db.selectFrom('promotions').selectAll().where('run_id', '=', input.runId).compile(),
  );
  let row: PromotionRow | undefined = existing;
  if (existing === undefined) {
    if (input.create === undefined) {
      throw new AasError('NOT_FOUND', `run ${input.runId} has no promotion`, {
        runId: input.runId,
        hint: 'request the promotion first: aas promote RUN',
      });
    }
    const create = input.create;
    [row] = yield* rowsOf(
      db
        .insertInto('promotions')
        .values({
          run_id: input.runId,
          session_id: head.sessionId,
          requested_mode: create.requestedMode,
          mode: null,
          state: create.state,
          requested_by: create.requestedBy,
          target_branch: create.targetBranch,
          branch: null,
          remote: null,
          commit_sha: null,
          pr_url: null,
          attestation_sha256: null,
          started_at: create.startedAt,
          updated_at: input.updatedAt,
          detail: JSON.stringify(create.detail) ?? 'null',
          version: 1,
        })
        .returningAll()
        .compile(),
    );
  }
  if (row === undefined) throw new AasError('INTERNAL', 'the promotion insert returned no row');
  if (input.expectVersion !== undefined && row.version !== input.expectVersion) {
    throw new AasError(
      'CONFLICT',
      `the promotion of run ${input.runId} is at version ${row.version}, not ${input.expectVersion}`,
      { runId: input.runId, actualVersion: row.version, expectedVersion: input.expectVersion },
    );
  }
  if (input.changes !== undefined && Object.keys(input.changes).length > 0) {
    const changes = input.changes;
    [row] = yield* rowsOf(
      db
        .updateTable('promotions')
        .set({
          ...(changes.mode === undefined ? {} : { mode: changes.mode }),
          ...(changes.state === undefined ? {} : { state: changes.state }),
          ...(changes.branch === undefined ? {} : { branch: changes.branch }),
          ...(changes.remote === undefined ? {} : { remote: changes.remote }),
          ...(changes.commitSha === undefined ? {} : { commit_sha: changes.commitSha }),
          ...(changes.prUrl === undefined ? {} : { pr_url: changes.prUrl }),
          ...(changes.attestationSha256 === undefined
            ? {}
            : { attestation_sha256: changes.attestationSha256 }),
          ...(changes.detail === undefined
            ? {}
            : { detail: JSON.stringify(changes.detail) ?? 'null' }),
          updated_at: input.updatedAt,
          version: row.version + 1,
        })
        .where('run_id', '=', input.runId)
        .returningAll()
        .compile(),
    );
    if (row === undefined) throw new AasError('INTERNAL', 'the promotion update returned no row');
  }
  let changed: RunRecord | null = null;
  if (input.runChanges !== undefined) {
    changed = yield* changeRun(db, run, input.runChanges, input.events);
    run = changed;
  }
  const stored = yield* appendToLockedHead(
    db,
    head,
    input.events,
    changed === null ? undefined : { status: changed.status, reason_code: changed.reasonCode },
  );
  return { promotion: promotionFromRow(row), run, events: stored };
}
