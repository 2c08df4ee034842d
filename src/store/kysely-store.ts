import type { Kysely } from 'kysely';
import { AasError, GENESIS_HASH } from '../kernel/index.js';
import { chainEvents } from './chain-events.js';
import type { DatabaseSchema } from './database-schema.js';
import {
  type AttemptRecord,
  type AttemptStatus,
  type EventRange,
  type NewEvent,
  type NewRun,
  type NewSession,
  type RunChanges,
  type RunFence,
  type RunRecord,
  RunStatus,
  type SessionFilter,
  type SessionRecord,
  type StoredEvent,
} from './records.js';
import { attemptFromRow, eventFromRow, runFromRow, sessionFromRow } from './row-mappers.js';
import { runChangesToRow, runConflict, runUpdatedAt } from './run-changes.js';
import { checkRunFence, leaseFenced } from './run-fence.js';
import { appendToLockedHead, insertEventRows, lockSessionHead } from './session-head.js';
import type { SqlExecutor } from './sql-executor.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import type { Dialect, Store } from './store.js';
import { checkLimit, notFound, toStoreError } from './store-errors.js';

/**
 * The store, written once for both dialects. Every state change runs as one operation in one
 * transaction whose FIRST statement is an UPDATE of the session row (`lockSessionHead`): in
 * PostgreSQL that takes the row lock that serialises writers of one session; in SQLite the
 * executor has already taken the database write lock (BEGIN IMMEDIATE). Taking the session lock
 * first in every operation also gives all writers one lock order, so they cannot deadlock.
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

  constructor(dialect: Dialect, db: Kysely<DatabaseSchema>, executor: SqlExecutor) {
    this.dialect = dialect;
    this.#db = db;
    this.#executor = executor;
  }

  async createSession(input: {
    session: NewSession;
    run: NewRun;
    events: readonly NewEvent[];
  }): Promise<StoredEvent[]> {
    return this.#write('createSession', () => this.#createSession(input));
  }

  async appendEvents(
    sessionId: string,
    events: readonly NewEvent[],
    fence?: RunFence,
  ): Promise<StoredEvent[]> {
    return this.#write('appendEvents', () => this.#appendEvents(sessionId, events, fence));
  }

  async updateRun(input: {
    runId: string;
    expect?: { status?: readonly RunStatus[]; version?: number; leaseOwner?: string };
    changes: RunChanges;
    events: readonly NewEvent[];
  }): Promise<{ run: RunRecord; events: StoredEvent[] }> {
    return this.#write('updateRun', () => this.#updateRun(input));
  }

  async createAttempt(input: {
    attempt: { id: string; runId: string; number: number; agentId: string; startedAt: string };
    events: readonly NewEvent[];
    fence?: RunFence;
  }): Promise<StoredEvent[]> {
    checkFenceMatchesRun(input.fence, input.attempt.runId);
    return this.#write('createAttempt', () => this.#createAttempt(input));
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
    return this.#write('finishAttempt', () => this.#finishAttempt(input));
  }

  async renewRunLease(runId: string, owner: string, leaseExpiresAt: string): Promise<boolean> {
    return this.#write('renewRunLease', () => this.#renewRunLease(runId, owner, leaseExpiresAt));
  }

  async listRunsWithExpiredLease(nowIso: string, limit?: number): Promise<RunRecord[]> {
    checkLimit(limit, 'limit');
    // A NULL lease (never leased) never compares as expired.
    const query = this.#db
      .selectFrom('runs')
      .selectAll()
      .where('status', 'in', [RunStatus.queued, RunStatus.running])
      .where('lease_expires_at', '<', nowIso)
      .orderBy('lease_expires_at')
      .orderBy('id')
      .$if(limit !== undefined, (qb) => qb.limit(limit ?? 0))
      .compile();
    return this.#read('listRunsWithExpiredLease', function* () {
      return (yield* rowsOf(query)).map(runFromRow);
    });
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const query = this.#db.selectFrom('sessions').selectAll().where('id', '=', id).compile();
    return this.#read('getSession', function* () {
      const [row] = yield* rowsOf(query);
      return row === undefined ? null : sessionFromRow(row);
    });
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    checkLimit(filter.limit, 'limit');
    let builder = this.#db.selectFrom('sessions').selectAll().orderBy('id', 'desc');
    if (filter.status !== undefined) builder = builder.where('status', '=', filter.status);
    if (filter.beforeId !== undefined) builder = builder.where('id', '<', filter.beforeId);
    if (filter.limit !== undefined) builder = builder.limit(filter.limit);
    const query = builder.compile();
    return this.#read('listSessions', function* () {
      return (yield* rowsOf(query)).map(sessionFromRow);
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

  async listSessionIds(): Promise<string[]> {
    const query = this.#db.selectFrom('sessions').select('id').orderBy('id').compile();
    return this.#read('listSessionIds', function* () {
      return (yield* rowsOf(query)).map((row) => row.id);
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
        })
        .compile(),
    );
    yield* insertEventRows(this.#db, chained.rows);
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
    expect?: { status?: readonly RunStatus[]; version?: number; leaseOwner?: string };
    changes: RunChanges;
    events: readonly NewEvent[];
  }): SqlOperation<{ run: RunRecord; events: StoredEvent[] }> {
    const { runId, expect, changes, events } = input;
    const head = yield* lockSessionHead(this.#db, { runId }, events);
    if (head === null) throw notFound('run', runId);

    const updatedAt = runUpdatedAt(changes, events);
    let update = this.#db
      .updateTable('runs')
      .set((eb) => ({
        ...runChangesToRow(changes),
        ...(updatedAt === undefined ? {} : { updated_at: updatedAt }),
        version: eb('version', '+', 1),
      }))
      .where('id', '=', runId);
    if (expect?.status !== undefined) update = update.where('status', 'in', expect.status);
    if (expect?.version !== undefined) update = update.where('version', '=', expect.version);
    // The lease condition sits in the same UPDATE, after the session lock: recovery ends runs
    // through that lock too, so a holder it fenced off cannot slip a write in.
    if (expect?.leaseOwner !== undefined) {
      update = update.where('lease_owner', '=', expect.leaseOwner);
    }
    // `IN ()` is not valid SQL; an empty list of acceptable statuses matches no run.
    const [row] =
      expect?.status?.length === 0 ? [] : yield* rowsOf(update.returningAll().compile());
    if (row === undefined) {
      // Only to explain the refusal: nothing was written.
      const [current] = yield* rowsOf(
        this.#db
          .selectFrom('runs')
          .select(['session_id', 'status', 'version', 'lease_owner'])
          .where('id', '=', runId)
          .compile(),
      );
      // A lost lease outranks a status or version mismatch: it tells the caller to stop.
      if (expect?.leaseOwner !== undefined && current?.lease_owner !== expect.leaseOwner) {
        const fence = { runId, leaseOwner: expect.leaseOwner };
        throw leaseFenced(
          fence,
          current && {
            sessionId: current.session_id,
            leaseOwner: current.lease_owner,
            status: current.status,
          },
        );
      }
      throw runConflict(runId, current, expect ?? {});
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
    const { attempt, events, fence } = input;
    const head = yield* lockSessionHead(this.#db, { runId: attempt.runId }, events);
    if (head === null) throw notFound('run', attempt.runId);
    if (fence !== undefined) yield* checkRunFence(this.#db, head, fence);
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

  *#renewRunLease(runId: string, owner: string, leaseExpiresAt: string): SqlOperation<boolean> {
    // The version bump fences recoverers: one that read the run before this renewal and then
    // updates it with `expect.version` gets CONFLICT instead of failing a live run.
    const renewed = yield* rowsOf(
      this.#db
        .updateTable('runs')
        .set((eb) => ({ lease_expires_at: leaseExpiresAt, version: eb('version', '+', 1) }))
        .where('id', '=', runId)
        .where('lease_owner', '=', owner)
        .returning('id')
        .compile(),
    );
    if (renewed.length > 0) return true;
    const exists = yield* rowsOf(
      this.#db.selectFrom('runs').select('id').where('id', '=', runId).compile(),
    );
    if (exists.length === 0) throw notFound('run', runId);
    return false;
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
