import { type CompiledQuery, type Kysely, sql } from 'kysely';
import { AasError, GENESIS_HASH } from '../kernel/index.js';
import { type NewRunArtifact, putRunArtifact, runArtifactFromRow } from './artifact-operations.js';
import { chainEvents } from './chain-events.js';
import { type ClaimedRun, type ClaimRunInput, claimRun } from './claim-run.js';
import type { DatabaseSchema } from './database-schema.js';
import { pruneLeaseWrites, recordLeaseWrite } from './lease-write.js';
import {
  MODEL_USAGE_EVENT,
  modelSpendFromRow,
  modelSpendQuery,
  recordModelSpend,
} from './model-spend.js';
import { PostgresBatches } from './postgres-batches.js';
import { statementCapacity } from './power-of-two-chunks.js';
import {
  acquireWriterLease,
  approvalFromRow,
  promotionFromRow,
  type RunGuard,
  recordApproval,
  recordPromotionStep,
  releaseWriterLease,
  renewWriterLease,
  voidApprovals,
  writerLeaseFromRow,
} from './promotion-operations.js';
import {
  type ApprovalRecord,
  type AttemptRecord,
  type AttemptStatus,
  type EventRange,
  type FireScheduleResult,
  type LeaseRenewal,
  type ModelSpend,
  type ModelSpendScope,
  type NewApproval,
  type NewEvent,
  type NewPromotion,
  type NewRun,
  type NewSchedule,
  type NewSession,
  type NewToken,
  type NewWorkerEnrolment,
  type PromotionChanges,
  type PromotionRecord,
  REQUIREMENT_KINDS,
  type RegisterWorkerInput,
  type RemoteWorkerRecord,
  RUN_STATUSES,
  type RunArtifactRecord,
  type RunChanges,
  type RunFence,
  type RunLease,
  type RunRecord,
  RunStatus,
  type ScheduleChanges,
  type ScheduleFireRecord,
  type ScheduleRecord,
  type SessionFilter,
  type SessionListItem,
  type SessionRecord,
  type StoredEvent,
  type TokenRecord,
  type WorkerEnrolmentRecord,
  type WriterLeaseFence,
  type WriterLeaseRecord,
} from './records.js';
import { renewRunLease } from './renew-run-lease.js';
import {
  attemptFromRow,
  eventFromRow,
  parseRunStatus,
  runFromRow,
  sessionFromRow,
  tokenFromRow,
} from './row-mappers.js';
import { runConflict, runUpdatedAt } from './run-changes.js';
import { checkRunFence, fenceHolds, leaseFenced } from './run-fence.js';
import { type RunExpectation, runUpdateStatement } from './run-update-statement.js';
import {
  checkNewSchedule,
  checkScheduleChanges,
  createSchedule,
  deleteSchedule,
  type FireScheduleInput,
  fireSchedule,
  readSchedule,
  scheduleFireFromRow,
  scheduleFromRow,
  updateSchedule,
} from './schedule-operations.js';
import { appendToLockedHead, insertEventRows, lockSessionHead } from './session-head.js';
import { SessionHeadCache } from './session-head-cache.js';
import { sessionListQuery } from './session-list-query.js';
import type { SqlExecutor } from './sql-executor.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import type { AttemptEnd, Dialect, Store } from './store.js';
import { checkLimit, isUniqueViolation, notFound, toStoreError } from './store-errors.js';
import {
  checkNewToken,
  createToken,
  findTokenClash,
  revokeToken,
  tokenConflict,
} from './token-operations.js';
import {
  checkSha256,
  createWorkerEnrolment,
  registerWorker,
  remoteWorkerFromRow,
  setWorkerDraining,
  updateWorker,
  workerEnrolmentFromRow,
} from './worker-operations.js';

/** PostgreSQL's `integer`: priorities and claim budgets must fit both dialects alike. */
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** Session ids per `lastSeqs` statement: well under either dialect's bind-parameter limit. */
const MAX_IDS_PER_LOOKUP = 512;

/**
 * The store, written once for both dialects. Every state change runs as one operation in one
 * transaction whose FIRST statement is an UPDATE of the session row (`lockSessionHead`): in
 * PostgreSQL that takes the row lock that serialises writers of one session; in SQLite the
 * executor has already taken the database write lock (BEGIN IMMEDIATE). Taking the session lock
 * first in every operation also gives all writers one lock order, so they cannot deadlock.
 * Two writes differ: renewRunLease changes only its run row and appends nothing (one statement,
 * so PostgreSQL runs it without BEGIN/COMMIT), and claimRun must find its run before it knows
 * the session; it takes every lock without waiting, so it cannot deadlock either (see
 * claim-run.ts). Tokens are not session state and lock no session.
 *
 * On PostgreSQL the queue's hot writes also come as single statements, each atomic on its own
 * with the same locks, checks and seqs, and each shared by every caller of this store at that
 * moment (postgres-batches.ts): a claim that records the standard run.started and names no run
 * (postgres-claim-batch.ts; with a per-repo limit, a transaction of two statements shared the
 * same way, postgres-limited-claim-batch.ts), a lease renewal, and updateRun when this
 * store knows the session's head from its own last write (SessionHeadCache), which checks that
 * head under the session lock (postgres-run-update-batch.ts) and falls back to the transaction
 * when it has moved.
 *
 * The store has no clock: timestamps come from inputs. `updated_at` of a session is the `at` of
 * its newest event; of a run, the `at` of the last event of the update, else the update's
 * `finishedAt`, else its `startedAt`, else unchanged.
 *
 * Reads: a list without `limit` returns every match; a list keyed by a parent id (readEvents,
 * listRunsForSession, listAttempts) throws NOT_FOUND when the parent does not exist, so an
 * unknown id is never mistaken for an empty history.
 */
export class KyselyStore implements Store {
  readonly dialect: Dialect;
  readonly #db: Kysely<DatabaseSchema>;
  readonly #executor: SqlExecutor;
  /** PostgreSQL: heads this store wrote last, for writes that skip the head read. */
  readonly #heads = new SessionHeadCache();
  /** PostgreSQL: claims and heartbeats of concurrent callers, one statement per batch. */
  readonly #batches: PostgresBatches | undefined;

  constructor(dialect: Dialect, db: Kysely<DatabaseSchema>, executor: SqlExecutor) {
    this.dialect = dialect;
    this.#db = db;
    this.#executor = executor;
    this.#batches =
      dialect === 'postgres'
        ? new PostgresBatches(
            db,
            (name, operation) => this.#autocommit(name, operation),
            (name, operation) => this.#write(name, operation),
          )
        : undefined;
  }

  async createSession(input: {
    session: NewSession;
    run: NewRun;
    events: readonly NewEvent[];
  }): Promise<StoredEvent[]> {
    checkNewRun(input.run);
    const stored = await this.#write('createSession', () => this.#createSession(input));
    this.#heads.rememberRun(input.run.id, input.session.id);
    this.#heads.remember(stored);
    return stored;
  }

  async appendEvents(
    sessionId: string,
    events: readonly NewEvent[],
    fence?: RunFence,
  ): Promise<StoredEvent[]> {
    const stored = await this.#write('appendEvents', () =>
      this.#appendEvents(sessionId, events, fence),
    );
    this.#heads.remember(stored);
    return stored;
  }

  async updateRun(input: {
    runId: string;
    expect?: RunExpectation;
    changes: RunChanges;
    events: readonly NewEvent[];
    writeSeq?: number;
    finishAttempts?: readonly AttemptEnd[];
  }): Promise<{ run: RunRecord; events: StoredEvent[] }> {
    if (input.expect?.fencingToken !== undefined && input.expect.leaseOwner === undefined) {
      throw new AasError('INVALID_ARGUMENT', 'expect.fencingToken needs expect.leaseOwner', {
        field: 'expect.fencingToken',
      });
    }
    const known = await this.#updateRunAtKnownHead(input);
    if (known !== undefined) return known;
    const updated = await this.#write('updateRun', () => this.#updateRun(input));
    this.#heads.remember(updated.events);
    return updated;
  }

  /**
   * PostgreSQL, when this store knows the head of the run's session: the update in one statement
   * shared with concurrent ones (postgres-run-update-batch.ts). Undefined when it does not apply or wrote nothing; the caller
   * then takes the locking path, which also explains a refusal.
   */
  async #updateRunAtKnownHead(input: {
    runId: string;
    expect?: RunExpectation;
    changes: RunChanges;
    events: readonly NewEvent[];
    writeSeq?: number;
    finishAttempts?: readonly AttemptEnd[];
  }): Promise<{ run: RunRecord; events: StoredEvent[] } | undefined> {
    const head = this.#heads.headOfRun(input.runId);
    if (
      this.#batches === undefined ||
      head === undefined ||
      input.writeSeq !== undefined ||
      (input.finishAttempts?.length ?? 0) > 0 ||
      input.expect?.status?.length === 0 ||
      // Model calls also record their spend (recordModelSpend): the locking path does that.
      input.events.some((event) => event.type === MODEL_USAGE_EVENT)
    ) {
      return undefined;
    }
    const outcome = await this.#batches.updateAtKnownHead({
      ...input,
      head,
      expect: input.expect ?? {},
    });
    if (!outcome.applied) {
      if (outcome.headMoved) this.#heads.forget(head.sessionId);
      return undefined;
    }
    this.#heads.remember(outcome.events);
    return { run: runFromRow(outcome.row), events: outcome.events };
  }

  async createAttempt(input: {
    attempt: { id: string; runId: string; number: number; agentId: string; startedAt: string };
    events: readonly NewEvent[];
    fence?: RunFence;
  }): Promise<StoredEvent[]> {
    checkFenceMatchesRun(input.fence, input.attempt.runId);
    const stored = await this.#write('createAttempt', () => this.#createAttempt(input));
    this.#heads.remember(stored);
    return stored;
  }

  async finishAttempt(input: {
    attemptId: string;
    status: AttemptStatus;
    reasonCode: string | null;
    finishedAt: string;
    detail: unknown;
    events: readonly NewEvent[];
    fence?: RunFence;
  }): Promise<StoredEvent[]> {
    const stored = await this.#write('finishAttempt', () => this.#finishAttempt(input));
    this.#heads.remember(stored);
    return stored;
  }

  async renewRunLease(fence: RunFence, leaseExpiresAt: string): Promise<LeaseRenewal> {
    // One fenced UPDATE (and, only when the lease is lost, one read explaining it): a statement
    // is atomic on its own, and under READ COMMITTED a surrounding transaction would give the
    // read no other view, so PostgreSQL skips BEGIN and COMMIT.
    const batched = await this.#batches?.renew(fence, leaseExpiresAt);
    if (batched !== undefined) return batched;
    return this.#autocommit('renewRunLease', () => renewRunLease(this.#db, fence, leaseExpiresAt));
  }

  async claimRun(input: ClaimRunInput): Promise<ClaimedRun | null> {
    checkLimit(input.maxRunningPerRepo, 'maxRunningPerRepo');
    if (this.#batches !== undefined && PostgresBatches.batchable(input)) {
      const batched = await this.#batches.claim(input);
      if (batched !== undefined) {
        if (batched !== null) {
          this.#heads.rememberRun(batched.run.id, batched.run.sessionId);
          this.#heads.remember(batched.events);
        }
        return batched;
      }
    }
    const claimed = await this.#write('claimRun', () => claimRun(this.#db, this.dialect, input));
    if (claimed !== null) {
      this.#heads.rememberRun(claimed.run.id, claimed.run.sessionId);
      this.#heads.remember(claimed.events);
    }
    return claimed;
  }

  async countRunsByStatus(): Promise<Record<RunStatus, number>> {
    const query = this.#db
      .selectFrom('runs')
      .select((eb) => ['status', eb.fn.countAll().as('runs')])
      .groupBy('status')
      .compile();
    return this.#read('countRunsByStatus', function* () {
      const counts = Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as Record<
        RunStatus,
        number
      >;
      for (const row of yield* rowsOf(query)) {
        // PostgreSQL returns count(*) as a bigint string.
        counts[parseRunStatus(row.status, 'runs.status')] = Number(row.runs);
      }
      return counts;
    });
  }

  async listRunsWithExpiredLease(nowIso: string, limit?: number): Promise<RunRecord[]> {
    checkLimit(limit, 'limit');
    // A NULL lease (never leased) never compares as expired. A lease always has an owner
    // (claims and reservations set both, every release clears both): `lease_owner` selects the
    // leased runs through runs_lease_owner, whose key a renewal never changes (migration 0008).
    const query = this.#db
      .selectFrom('runs')
      .selectAll()
      .where('status', 'in', [RunStatus.queued, RunStatus.running])
      .where('lease_owner', 'is not', null)
      .where('lease_expires_at', '<', nowIso)
      .orderBy('lease_expires_at')
      .orderBy('id')
      .$if(limit !== undefined, (qb) => qb.limit(limit ?? 0))
      .compile();
    return this.#read('listRunsWithExpiredLease', function* () {
      return (yield* rowsOf(query)).map(runFromRow);
    });
  }

  async pruneLeaseWrites(
    finishedBeforeIso: string,
    maxRuns: number,
  ): Promise<{ records: number; runs: number }> {
    checkLimit(maxRuns, 'maxRuns');
    return this.#write('pruneLeaseWrites', () =>
      pruneLeaseWrites(this.#db, finishedBeforeIso, maxRuns),
    );
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const query = this.#db.selectFrom('sessions').selectAll().where('id', '=', id).compile();
    return this.#read('getSession', function* () {
      const [row] = yield* rowsOf(query);
      return row === undefined ? null : sessionFromRow(row);
    });
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionListItem[]> {
    checkLimit(filter.limit, 'limit');
    const query = sessionListQuery(this.#db, this.dialect, filter);
    return this.#read('listSessions', function* () {
      return (yield* rowsOf(query)).map((row) => ({ ...sessionFromRow(row), runId: row.run_id }));
    });
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const query = this.#db.selectFrom('runs').selectAll().where('id', '=', id).compile();
    return this.#read('getRun', function* () {
      const [row] = yield* rowsOf(query);
      return row === undefined ? null : runFromRow(row);
    });
  }

  async listRunsForSession(sessionId: string): Promise<RunRecord[]> {
    const query = this.#db
      .selectFrom('runs')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('created_at')
      .orderBy('id')
      .compile();
    const exists = this.#sessionExistsQuery(sessionId);
    return this.#read('listRunsForSession', function* () {
      const rows = yield* rowsOf(query);
      if (rows.length === 0 && (yield* rowsOf(exists)).length === 0)
        throw notFound('session', sessionId);
      return rows.map(runFromRow);
    });
  }

  async listAttempts(runId: string): Promise<AttemptRecord[]> {
    const query = this.#db
      .selectFrom('attempts')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('number')
      .compile();
    const exists = this.#db.selectFrom('runs').select('id').where('id', '=', runId).compile();
    return this.#read('listAttempts', function* () {
      const rows = yield* rowsOf(query);
      if (rows.length === 0 && (yield* rowsOf(exists)).length === 0) throw notFound('run', runId);
      return rows.map(attemptFromRow);
    });
  }

  async readEvents(sessionId: string, range: EventRange = {}): Promise<StoredEvent[]> {
    checkLimit(range.afterSeq, 'afterSeq');
    checkLimit(range.limit, 'limit');
    let builder = this.#db
      .selectFrom('events')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('seq', '>', range.afterSeq ?? 0)
      .orderBy('seq');
    if (range.limit !== undefined) builder = builder.limit(range.limit);
    const query = builder.compile();
    const exists = this.#sessionExistsQuery(sessionId);
    return this.#read('readEvents', function* () {
      const rows = yield* rowsOf(query);
      if (rows.length === 0 && (yield* rowsOf(exists)).length === 0)
        throw notFound('session', sessionId);
      return rows.map(eventFromRow);
    });
  }

  async lastSeqs(sessionIds: readonly string[]): Promise<Map<string, number>> {
    const unique = [...new Set(sessionIds)];
    const queries: CompiledQuery<{ id: string; last_seq: number }>[] = [];
    for (let start = 0; start < unique.length; start += MAX_IDS_PER_LOOKUP) {
      const ids = unique.slice(start, start + MAX_IDS_PER_LOOKUP);
      // Padded with its last id to a power of two: a handful of statement texts serve every
      // count, so prepared statements are reused rather than made for each.
      const last = ids.at(-1) ?? '';
      const capacity = statementCapacity(ids.length);
      while (ids.length < capacity) ids.push(last);
      queries.push(
        this.#db.selectFrom('sessions').select(['id', 'last_seq']).where('id', 'in', ids).compile(),
      );
    }
    return this.#read('lastSeqs', function* () {
      const heads = new Map<string, number>();
      for (const query of queries) {
        for (const row of yield* rowsOf(query)) heads.set(row.id, Number(row.last_seq));
      }
      return heads;
    });
  }

  async putRunArtifact(artifact: NewRunArtifact): Promise<RunArtifactRecord> {
    return this.#write('putRunArtifact', () => putRunArtifact(this.#db, artifact));
  }

  async getRunArtifact(
    runId: string,
    name: string,
  ): Promise<{ artifact: RunArtifactRecord; content: Buffer } | null> {
    const db = this.#db;
    return this.#read('getRunArtifact', function* () {
      const [row] = yield* rowsOf(
        db
          .selectFrom('run_artifacts')
          .selectAll()
          .where('run_id', '=', runId)
          .where('name', '=', name)
          .compile(),
      );
      if (row === undefined) return null;
      return { artifact: runArtifactFromRow(row), content: Buffer.from(row.content) };
    });
  }

  async listRunArtifacts(runId: string): Promise<RunArtifactRecord[]> {
    const db = this.#db;
    return this.#read('listRunArtifacts', function* () {
      const rows = yield* rowsOf(
        db
          .selectFrom('run_artifacts')
          .select(['run_id', 'name', 'sha256', 'bytes', 'original_bytes', 'created_at'])
          .where('run_id', '=', runId)
          .orderBy('name')
          .compile(),
      );
      return rows.map(runArtifactFromRow);
    });
  }

  async modelSpend(scope: ModelSpendScope): Promise<ModelSpend> {
    const query = modelSpendQuery(this.#db, scope);
    // Only to tell an unknown run or session from one that spent nothing.
    const parent =
      'runId' in scope
        ? {
            exists: this.#db
              .selectFrom('runs')
              .select('id')
              .where('id', '=', scope.runId)
              .compile(),
            missing: () => notFound('run', scope.runId),
          }
        : 'sessionId' in scope
          ? {
              exists: this.#sessionExistsQuery(scope.sessionId),
              missing: () => notFound('session', scope.sessionId),
            }
          : undefined;
    return this.#read('modelSpend', function* () {
      const [row] = yield* rowsOf(query);
      const spend = modelSpendFromRow(row);
      if (spend.calls === 0 && parent !== undefined && (yield* rowsOf(parent.exists)).length === 0)
        throw parent.missing();
      return spend;
    });
  }

  async listSessionIds(): Promise<string[]> {
    const query = this.#db.selectFrom('sessions').select('id').orderBy('id').compile();
    return this.#read('listSessionIds', function* () {
      return (yield* rowsOf(query)).map((row) => row.id);
    });
  }

  async createToken(token: NewToken): Promise<TokenRecord> {
    checkNewToken(token);
    try {
      return await this.#write('createToken', () => createToken(this.#db, token));
    } catch (error) {
      // A concurrent create committed the same name or hash after this one looked.
      if (!isUniqueViolation(error) && !isUniqueViolation(errorCause(error))) throw error;
      const clash = await this.#read('createToken', () => findTokenClash(this.#db, token));
      throw clash === undefined ? error : tokenConflict(token, clash);
    }
  }

  async findTokenBySecretHash(secretSha256: string): Promise<TokenRecord | null> {
    const query = this.#db
      .selectFrom('tokens')
      .selectAll()
      .where('secret_sha256', '=', secretSha256)
      .compile();
    return this.#read('findTokenBySecretHash', function* () {
      const [row] = yield* rowsOf(query);
      return row === undefined ? null : tokenFromRow(row);
    });
  }

  async listTokens(): Promise<TokenRecord[]> {
    const query = this.#db
      .selectFrom('tokens')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .compile();
    return this.#read('listTokens', function* () {
      return (yield* rowsOf(query)).map(tokenFromRow);
    });
  }

  async revokeToken(idOrName: string, revokedAt: string): Promise<TokenRecord> {
    return this.#write('revokeToken', () => revokeToken(this.#db, idOrName, revokedAt));
  }

  async countTokens(): Promise<number> {
    const query = this.#db
      .selectFrom('tokens')
      .select((eb) => eb.fn.countAll().as('tokens'))
      .compile();
    return this.#read('countTokens', function* () {
      const [row] = yield* rowsOf(query);
      return Number(row?.tokens ?? 0);
    });
  }

  async createWorkerEnrolment(enrolment: NewWorkerEnrolment): Promise<WorkerEnrolmentRecord> {
    checkSha256(enrolment.secretSha256, 'secretSha256');
    return this.#write('createWorkerEnrolment', () => createWorkerEnrolment(this.#db, enrolment));
  }

  async listPendingEnrolments(nowIso: string): Promise<WorkerEnrolmentRecord[]> {
    const query = this.#db
      .selectFrom('worker_enrolments')
      .selectAll()
      .where('used_at', 'is', null)
      .where('expires_at', '>', nowIso)
      .orderBy('created_at')
      .orderBy('id')
      .compile();
    return this.#read('listPendingEnrolments', function* () {
      return (yield* rowsOf(query)).map(workerEnrolmentFromRow);
    });
  }

  async withdrawEnrolments(name: string, nowIso: string): Promise<WorkerEnrolmentRecord[]> {
    const query = this.#db
      .updateTable('worker_enrolments')
      // Spent by no worker: registration wants it unused, whatever the registering host's clock.
      .set({ used_at: nowIso })
      .where('name', '=', name)
      .where('used_at', 'is', null)
      .where('expires_at', '>', nowIso)
      .returningAll()
      .compile();
    return this.#write('withdrawEnrolments', function* () {
      return (yield* rowsOf(query)).map(workerEnrolmentFromRow);
    });
  }

  async registerWorker(input: RegisterWorkerInput): Promise<RemoteWorkerRecord> {
    checkSha256(input.enrolmentSecretSha256, 'enrolmentSecretSha256');
    checkSha256(input.credentialSha256, 'credentialSha256');
    try {
      return await this.#write('registerWorker', () => registerWorker(this.#db, input));
    } catch (error) {
      // A concurrent registration took the name (or the credential hash) after this one looked.
      if (!isUniqueViolation(error) && !isUniqueViolation(errorCause(error))) throw error;
      throw new AasError('NAME_TAKEN', 'the worker name or credential was taken concurrently', {
        hint: 'ask for a new enrolment with another name',
      });
    }
  }

  async findWorkerByCredentialHash(credentialSha256: string): Promise<RemoteWorkerRecord | null> {
    const query = this.#db
      .selectFrom('remote_workers')
      .selectAll()
      .where('credential_sha256', '=', credentialSha256)
      .compile();
    return this.#read('findWorkerByCredentialHash', function* () {
      const [row] = yield* rowsOf(query);
      return row === undefined ? null : remoteWorkerFromRow(row);
    });
  }

  async getWorker(idOrName: string): Promise<RemoteWorkerRecord | null> {
    const db = this.#db;
    return this.#read('getWorker', function* () {
      for (const column of ['id', 'name'] as const) {
        const [row] = yield* rowsOf(
          db.selectFrom('remote_workers').selectAll().where(column, '=', idOrName).compile(),
        );
        if (row !== undefined) return remoteWorkerFromRow(row);
      }
      return null;
    });
  }

  async listWorkers(): Promise<RemoteWorkerRecord[]> {
    const query = this.#db.selectFrom('remote_workers').selectAll().orderBy('name').compile();
    return this.#read('listWorkers', function* () {
      return (yield* rowsOf(query)).map(remoteWorkerFromRow);
    });
  }

  async revokeWorker(idOrName: string, revokedAt: string): Promise<RemoteWorkerRecord> {
    return this.#write('revokeWorker', () =>
      updateWorker(this.#db, idOrName, { revoked_at: revokedAt }, true),
    );
  }

  async recordWorkerSeen(
    id: string,
    seenAt: string,
    selfDraining?: boolean,
  ): Promise<RemoteWorkerRecord> {
    const selfDrain =
      selfDraining === undefined ? {} : { self_drain_reported_at: selfDraining ? seenAt : null };
    return this.#write('recordWorkerSeen', () =>
      updateWorker(this.#db, id, { last_seen_at: seenAt, ...selfDrain }, false),
    );
  }

  async recordInstallationFact(
    name: string,
    value: string,
    nowIso: string,
  ): Promise<{ readonly value: string; readonly recordedAt: string }> {
    const insert = this.#db
      .insertInto('installation_facts')
      .values({ name, value, recorded_at: nowIso })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .compile();
    const read = this.#db
      .selectFrom('installation_facts')
      .select(['value', 'recorded_at'])
      .where('name', '=', name)
      .compile();
    return this.#write('recordInstallationFact', function* () {
      yield* rowsOf(insert);
      const [row] = yield* rowsOf(read);
      // Inserted or already there, and never deleted: a missing row is a broken database.
      if (row === undefined) throw new AasError('INTERNAL', `installation fact ${name} is missing`);
      return { value: row.value, recordedAt: row.recorded_at };
    });
  }

  async listRunningLeases(): Promise<RunLease[]> {
    const query = this.#db
      .selectFrom('runs')
      .select(['id', 'lease_owner', 'fencing_token', 'lease_expires_at'])
      .where('status', '=', sql.lit(RunStatus.running))
      .where('lease_owner', 'is not', null)
      .orderBy('started_at')
      .orderBy('id')
      .compile();
    return this.#read('listRunningLeases', function* () {
      return (yield* rowsOf(query)).map((row) => ({
        runId: row.id,
        leaseOwner: row.lease_owner ?? '',
        fencingToken: Number(row.fencing_token),
        leaseExpiresAt: row.lease_expires_at,
      }));
    });
  }

  async setWorkerDraining(idOrName: string, draining: boolean): Promise<RemoteWorkerRecord> {
    return this.#write('setWorkerDraining', () => setWorkerDraining(this.#db, idOrName, draining));
  }

  async recordApproval(input: {
    approval: NewApproval;
    guard: RunGuard;
    runChanges?: RunChanges;
    events: readonly NewEvent[];
  }): Promise<{ approval: ApprovalRecord; run: RunRecord; events: StoredEvent[] }> {
    return this.#write('recordApproval', () => recordApproval(this.#db, input));
  }

  async listApprovals(filter: { runId?: string; limit?: number } = {}): Promise<ApprovalRecord[]> {
    checkLimit(filter.limit, 'limit');
    const query = this.#db
      .selectFrom('approvals')
      .selectAll()
      .$if(filter.runId !== undefined, (qb) => qb.where('run_id', '=', filter.runId ?? ''))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit ?? 0))
      .compile();
    const runId = filter.runId;
    const exists =
      runId === undefined
        ? undefined
        : this.#db.selectFrom('runs').select('id').where('id', '=', runId).compile();
    return this.#read('listApprovals', function* () {
      const rows = yield* rowsOf(query);
      if (rows.length === 0 && exists !== undefined && (yield* rowsOf(exists)).length === 0) {
        throw notFound('run', runId ?? '');
      }
      return rows.map(approvalFromRow);
    });
  }

  async acquireWriterLease(input: {
    key: string;
    owner: string;
    runId: string | null;
    nowIso: string;
    expiresAt: string;
  }): Promise<WriterLeaseRecord | null> {
    return this.#write('acquireWriterLease', () => acquireWriterLease(this.#db, input));
  }

  async renewWriterLease(
    fence: WriterLeaseFence,
    nowIso: string,
    expiresAt: string,
  ): Promise<boolean> {
    return this.#write('renewWriterLease', () =>
      renewWriterLease(this.#db, fence, nowIso, expiresAt),
    );
  }

  async releaseWriterLease(fence: WriterLeaseFence, nowIso: string): Promise<boolean> {
    return this.#write('releaseWriterLease', () => releaseWriterLease(this.#db, fence, nowIso));
  }

  async getWriterLease(key: string): Promise<WriterLeaseRecord | null> {
    const query = this.#db.selectFrom('writer_leases').selectAll().where('key', '=', key).compile();
    return this.#read('getWriterLease', function* () {
      const [row] = yield* rowsOf(query);
      return row === undefined ? null : writerLeaseFromRow(row);
    });
  }

  async getPromotion(runId: string): Promise<PromotionRecord | null> {
    const query = this.#db
      .selectFrom('promotions')
      .selectAll()
      .where('run_id', '=', runId)
      .compile();
    return this.#read('getPromotion', function* () {
      const [row] = yield* rowsOf(query);
      return row === undefined ? null : promotionFromRow(row);
    });
  }

  async listUnfinishedPromotions(limit: number): Promise<PromotionRecord[]> {
    checkLimit(limit, 'limit');
    const query = this.#db
      .selectFrom('promotions')
      .innerJoin('runs', 'runs.id', 'promotions.run_id')
      .selectAll('promotions')
      .where('promotions.state', '!=', 'completed')
      .where('runs.status', '=', 'promoting')
      .orderBy('promotions.updated_at')
      .orderBy('promotions.run_id')
      .limit(limit)
      .compile();
    return this.#read('listUnfinishedPromotions', function* () {
      return (yield* rowsOf(query)).map(promotionFromRow);
    });
  }

  async recordPromotionStep(input: {
    runId: string;
    lease?: { fence: WriterLeaseFence; nowIso: string };
    guard?: RunGuard;
    create?: NewPromotion;
    changes?: PromotionChanges;
    expectVersion?: number;
    runChanges?: RunChanges;
    updatedAt: string;
    events: readonly NewEvent[];
  }): Promise<{ promotion: PromotionRecord; run: RunRecord; events: StoredEvent[] }> {
    return this.#write('recordPromotionStep', () => recordPromotionStep(this.#db, input));
  }

  async createSchedule(schedule: NewSchedule): Promise<ScheduleRecord> {
    checkNewSchedule(schedule);
    try {
      return await this.#write('createSchedule', () => createSchedule(this.#db, schedule));
    } catch (error) {
      // A concurrent create committed the same name after this one looked.
      if (!isUniqueViolation(error) && !isUniqueViolation(errorCause(error))) throw error;
      throw new AasError('NAME_TAKEN', `a schedule named "${schedule.name}" already exists`, {
        field: 'name',
        name: schedule.name,
      });
    }
  }

  async getSchedule(idOrName: string): Promise<ScheduleRecord | null> {
    return this.#read('getSchedule', () => readSchedule(this.#db, idOrName));
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const query = this.#db.selectFrom('schedules').selectAll().orderBy('name').compile();
    return this.#read('listSchedules', function* () {
      return (yield* rowsOf(query)).map(scheduleFromRow);
    });
  }

  async updateSchedule(input: {
    id: string;
    expectedVersion?: number;
    changes: ScheduleChanges;
    updatedAt: string;
    updatedBy: string;
  }): Promise<ScheduleRecord> {
    checkScheduleChanges(input.changes);
    try {
      return await this.#write('updateSchedule', () => updateSchedule(this.#db, input));
    } catch (error) {
      if (!isUniqueViolation(error) && !isUniqueViolation(errorCause(error))) throw error;
      throw new AasError('NAME_TAKEN', `a schedule named "${input.changes.name}" already exists`, {
        field: 'name',
      });
    }
  }

  async deleteSchedule(id: string): Promise<ScheduleRecord> {
    return this.#write('deleteSchedule', () => deleteSchedule(this.#db, id));
  }

  async dueSchedules(nowIso: string, limit: number): Promise<ScheduleRecord[]> {
    checkLimit(limit, 'limit');
    const query = this.#db
      .selectFrom('schedules')
      .selectAll()
      .where('paused_at', 'is', null)
      .where('next_fire_at', '<=', nowIso)
      .orderBy('next_fire_at')
      .orderBy('id')
      .limit(limit)
      .compile();
    return this.#read('dueSchedules', function* () {
      return (yield* rowsOf(query)).map(scheduleFromRow);
    });
  }

  async fireSchedule(input: FireScheduleInput): Promise<FireScheduleResult> {
    if (input.create !== undefined) checkNewRun(input.create.run);
    if (!Number.isSafeInteger(input.missedSlots) || input.missedSlots < 0) {
      throw new AasError('INVALID_ARGUMENT', 'missedSlots must be a non-negative integer', {
        field: 'missedSlots',
      });
    }
    return this.#write('fireSchedule', () =>
      fireSchedule(this.#db, input, (create) => this.#createSession(create)),
    );
  }

  async listScheduleFires(scheduleId: string, limit?: number): Promise<ScheduleFireRecord[]> {
    checkLimit(limit, 'limit');
    const query = this.#db
      .selectFrom('schedule_fires')
      .selectAll()
      .where('schedule_id', '=', scheduleId)
      .orderBy('recorded_at', 'desc')
      .orderBy('slot_at', 'desc')
      .$if(limit !== undefined, (qb) => qb.limit(limit ?? 0))
      .compile();
    const exists = this.#db
      .selectFrom('schedules')
      .select('id')
      .where('id', '=', scheduleId)
      .compile();
    return this.#read('listScheduleFires', function* () {
      const rows = yield* rowsOf(query);
      if (rows.length === 0 && (yield* rowsOf(exists)).length === 0) {
        throw new AasError('NOT_FOUND', `no schedule with id ${scheduleId}`, { scheduleId });
      }
      return rows.map(scheduleFireFromRow);
    });
  }

  async close(): Promise<void> {
    return this.#executor.close();
  }

  async #write<T>(operationName: string, operation: () => SqlOperation<T>): Promise<T> {
    try {
      return await this.#executor.write(operation);
    } catch (error) {
      throw toStoreError(error, operationName);
    }
  }

  async #autocommit<T>(operationName: string, operation: () => SqlOperation<T>): Promise<T> {
    try {
      return await this.#executor.autocommit(operation);
    } catch (error) {
      throw toStoreError(error, operationName);
    }
  }

  async #read<T>(operationName: string, operation: () => SqlOperation<T>): Promise<T> {
    try {
      return await this.#executor.read(operation);
    } catch (error) {
      throw toStoreError(error, operationName);
    }
  }

  #sessionExistsQuery(sessionId: string) {
    return this.#db.selectFrom('sessions').select('id').where('id', '=', sessionId).compile();
  }

  *#createSession(input: {
    session: NewSession;
    run: NewRun;
    events: readonly NewEvent[];
  }): SqlOperation<StoredEvent[]> {
    const { session, run, events } = input;
    // A new session's head is known without reading: chain first, then insert the session
    // with its final head in the same statement that creates it.
    const chained = chainEvents(session.id, 1, GENESIS_HASH, events);
    const last = chained.stored.at(-1);
    yield* rowsOf(
      this.#db
        .insertInto('sessions')
        .values({
          id: session.id,
          created_at: session.createdAt,
          updated_at: last?.at ?? session.createdAt,
          task: session.task,
          repo: session.repo,
          agent: session.agent,
          requested_by: session.requestedBy,
          labels: JSON.stringify(session.labels),
          status: RunStatus.queued,
          reason_code: null,
          last_seq: events.length,
          last_hash: last?.hash ?? GENESIS_HASH,
        })
        .compile(),
    );
    yield* rowsOf(
      this.#db
        .insertInto('runs')
        .values({
          id: run.id,
          session_id: session.id,
          status: RunStatus.queued,
          reason_code: null,
          reason_detail: null,
          job_spec: JSON.stringify(run.jobSpec) ?? 'null',
          base_ref: null,
          base_commit: null,
          patch_sha256: null,
          summary: null,
          created_at: run.createdAt,
          updated_at: run.createdAt,
          started_at: null,
          finished_at: null,
          lease_owner: run.reservedBy?.leaseOwner ?? null,
          lease_expires_at: run.reservedBy?.leaseExpiresAt ?? null,
          version: 1,
          repo: session.repo,
          priority: run.priority ?? 0,
          fencing_token: 0,
          claim_count: 0,
          max_claims: run.maxClaims ?? 1,
          renewed_fencing_token: null,
          unacknowledged_claims: 0,
          not_before: null,
          cancel_requested_at: null,
          cancel_requested_by: null,
        })
        .compile(),
    );
    const requirements = [...new Set(run.requirements ?? [])];
    if (requirements.length > 0) {
      yield* rowsOf(
        this.#db
          .insertInto('run_requirements')
          .values(
            requirements.map((requirement) => ({
              run_id: run.id,
              kind: requirement.slice(0, requirement.indexOf(':')),
              requirement,
            })),
          )
          .compile(),
      );
    }
    const labels = [...new Set(session.labels)];
    if (labels.length > 0) {
      yield* rowsOf(
        this.#db
          .insertInto('session_labels')
          .values(labels.map((label) => ({ session_id: session.id, label })))
          .compile(),
      );
    }
    yield* insertEventRows(this.#db, chained.rows);
    yield* recordModelSpend(this.#db, session.id, chained.stored);
    return chained.stored;
  }

  *#appendEvents(
    sessionId: string,
    events: readonly NewEvent[],
    fence: RunFence | undefined,
  ): SqlOperation<StoredEvent[]> {
    const head = yield* lockSessionHead(this.#db, { sessionId }, events);
    if (head === null) throw notFound('session', sessionId);
    if (fence !== undefined) yield* checkRunFence(this.#db, head, fence);
    return yield* appendToLockedHead(this.#db, head, events);
  }

  *#updateRun(input: {
    runId: string;
    expect?: RunExpectation;
    changes: RunChanges;
    events: readonly NewEvent[];
    writeSeq?: number;
    finishAttempts?: readonly AttemptEnd[];
  }): SqlOperation<{ run: RunRecord; events: StoredEvent[] }> {
    const { runId, expect, changes } = input;
    const ending = input.finishAttempts ?? [];
    // An attempt ends before its run does: its event comes first.
    const events = [...ending.map((end) => end.event), ...input.events];
    const head = yield* lockSessionHead(this.#db, { runId }, events);
    if (head === null) throw notFound('run', runId);

    // Recorded before the update (see checkRunFence): a repeat is a repeat even once the run ended.
    if (input.writeSeq !== undefined) {
      yield* recordLeaseWrite(this.#db, {
        runId,
        leaseOwner: expect?.leaseOwner ?? '',
        fencingToken: expect?.leaseOwner === undefined ? undefined : expect.fencingToken,
        writeSeq: input.writeSeq,
      });
    }
    const updatedAt = runUpdatedAt(changes, events);
    // `IN ()` is not valid SQL; an empty list of acceptable statuses matches no run.
    const [row] =
      expect?.status?.length === 0
        ? []
        : yield* rowsOf(runUpdateStatement(this.#db, runId, changes, updatedAt, expect ?? {}));
    if (row === undefined) {
      // Only to explain the refusal: nothing was written.
      const [current] = yield* rowsOf(
        this.#db
          .selectFrom('runs')
          .select(['session_id', 'status', 'version', 'lease_owner', 'fencing_token'])
          .where('id', '=', runId)
          .compile(),
      );
      // A lost lease outranks a status or version mismatch: it tells the caller to stop.
      if (expect?.leaseOwner !== undefined) {
        const fence: RunFence = {
          runId,
          leaseOwner: expect.leaseOwner,
          ...(expect.fencingToken === undefined ? {} : { fencingToken: expect.fencingToken }),
        };
        const state = current && {
          sessionId: current.session_id,
          leaseOwner: current.lease_owner,
          status: current.status,
          fencingToken: current.fencing_token,
        };
        if (!fenceHolds(fence, state)) throw leaseFenced(fence, state);
      }
      throw runConflict(runId, current, expect ?? {});
    }
    for (const end of ending) {
      const [finished] = yield* rowsOf(
        this.#db
          .updateTable('attempts')
          .set({
            status: end.status,
            reason_code: end.reasonCode,
            finished_at: end.finishedAt,
            detail: JSON.stringify(end.detail) ?? 'null',
          })
          .where('id', '=', end.attemptId)
          .where('run_id', '=', runId)
          .where('status', '=', 'running')
          .returning('id')
          .compile(),
      );
      // Finished meanwhile by its holder: that outcome stands, and this whole change waits.
      if (finished === undefined) {
        throw new AasError('CONFLICT', `attempt ${end.attemptId} is no longer running`, {
          attemptId: end.attemptId,
          runId,
        });
      }
    }
    const mirror =
      changes.status !== undefined || changes.reasonCode !== undefined
        ? { status: row.status, reason_code: row.reason_code }
        : undefined;
    const stored = yield* appendToLockedHead(this.#db, head, events, mirror);
    return { run: runFromRow(row), events: stored };
  }

  *#createAttempt(input: {
    attempt: { id: string; runId: string; number: number; agentId: string; startedAt: string };
    events: readonly NewEvent[];
    fence?: RunFence;
  }): SqlOperation<StoredEvent[]> {
    const { attempt, fence } = input;
    // The store cannot know before the lock whether approvals will be voided; it reserves one
    // seq for the approval.voided event only when there are standing approvals to void.
    const standing = yield* rowsOf(
      this.#db
        .selectFrom('approvals')
        .select('id')
        .where('run_id', '=', attempt.runId)
        .where('voided_at', 'is', null)
        .compile(),
    );
    const voidedEvent: NewEvent = {
      type: 'approval.voided',
      at: attempt.startedAt,
      actor: input.events[0]?.actor ?? 'system:store',
      data: {
        runId: attempt.runId,
        approvalIds: standing.map((row) => row.id),
        reason: `attempt ${attempt.number} started: approvals were for an earlier patch`,
      },
    };
    const events = standing.length === 0 ? input.events : [...input.events, voidedEvent];
    const head = yield* lockSessionHead(this.#db, { runId: attempt.runId }, events);
    if (head === null) throw notFound('run', attempt.runId);
    if (fence !== undefined) yield* checkRunFence(this.#db, head, fence);
    // A new version: a recoverer that listed the run's attempts before this one existed, and
    // then changes the run expecting the version it read, gets CONFLICT instead of requeueing
    // the run over a running attempt (RunQueue's sweep reads attempts, then writes).
    yield* rowsOf(
      this.#db
        .updateTable('runs')
        .set((eb) => ({ version: eb('version', '+', 1) }))
        .where('id', '=', attempt.runId)
        .compile(),
    );
    if (standing.length > 0) {
      const voided = yield* voidApprovals(
        this.#db,
        attempt.runId,
        attempt.startedAt,
        `attempt ${attempt.number} started`,
      );
      // An approval recorded between the read above and the lock would void unannounced.
      if (voided.length !== standing.length) {
        throw new AasError('CONFLICT', 'approvals of the run changed while an attempt started', {
          runId: attempt.runId,
        });
      }
    }
    yield* rowsOf(
      this.#db
        .insertInto('attempts')
        .values({
          id: attempt.id,
          run_id: attempt.runId,
          number: attempt.number,
          agent_id: attempt.agentId,
          status: 'running',
          reason_code: null,
          started_at: attempt.startedAt,
          finished_at: null,
          detail: null,
        })
        .compile(),
    );
    return yield* appendToLockedHead(this.#db, head, events);
  }

  *#finishAttempt(input: {
    attemptId: string;
    status: AttemptStatus;
    reasonCode: string | null;
    finishedAt: string;
    detail: unknown;
    events: readonly NewEvent[];
    fence?: RunFence;
  }): SqlOperation<StoredEvent[]> {
    const { attemptId, events, fence } = input;
    const head = yield* lockSessionHead(this.#db, { attemptId }, events);
    if (head === null) throw notFound('attempt', attemptId);
    if (fence !== undefined) {
      yield* checkRunFence(this.#db, head, fence);
      // Only the attempt's row says which run it belongs to; a throw rolls the head back.
      const [owner] = yield* rowsOf(
        this.#db.selectFrom('attempts').select('run_id').where('id', '=', attemptId).compile(),
      );
      checkFenceMatchesRun(fence, owner?.run_id ?? '');
    }
    // Only a running attempt can finish: a second finish would silently rewrite its outcome.
    const finished = yield* rowsOf(
      this.#db
        .updateTable('attempts')
        .set({
          status: input.status,
          reason_code: input.reasonCode,
          finished_at: input.finishedAt,
          detail: JSON.stringify(input.detail) ?? 'null',
        })
        .where('id', '=', attemptId)
        .where('status', '=', 'running')
        .returning('id')
        .compile(),
    );
    if (finished.length === 0) {
      throw new AasError('CONFLICT', `attempt ${attemptId} has already finished`, { attemptId });
    }
    return yield* appendToLockedHead(this.#db, head, events);
  }
}

/**
 * A fence guards writes of its own run only: one naming another run of the same session would
 * pass the lease check while the attempt's run is left unguarded.
 */
function checkFenceMatchesRun(fence: RunFence | undefined, runId: string): void {
  if (fence !== undefined && fence.runId !== runId) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `fence names run ${fence.runId}, but the attempt belongs to run ${runId}`,
      { fenceRunId: fence.runId, runId },
    );
  }
}

/** Priorities and claim budgets are integers PostgreSQL's `integer` holds; a budget is >= 1. */
function checkNewRun(run: NewRun): void {
  const checks: readonly [string, number | undefined, number][] = [
    ['run.priority', run.priority, INT32_MIN],
    ['run.maxClaims', run.maxClaims, 1],
  ];
  for (const [field, value, min] of checks) {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > INT32_MAX)) {
      throw new AasError(
        'INVALID_ARGUMENT',
        `${field} must be an integer from ${min} to ${INT32_MAX}, got ${value}`,
        { field },
      );
    }
  }
  for (const requirement of run.requirements ?? []) {
    const kind = requirement.slice(0, Math.max(0, requirement.indexOf(':')));
    if (
      !(REQUIREMENT_KINDS as readonly string[]).includes(kind) ||
      requirement.length <= kind.length + 1
    ) {
      throw new AasError(
        'INVALID_ARGUMENT',
        `run requirement "${requirement}" is not <kind>:<value>`,
        {
          field: 'run.requirements',
          allowed: REQUIREMENT_KINDS,
        },
      );
    }
  }
}

function errorCause(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}
