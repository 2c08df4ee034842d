import { type Kysely, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema, RunRow } from './database-schema.js';
import {
  type NewEvent,
  RequirementKind,
  type RunRecord,
  RunStatus,
  type StoredEvent,
  type WorkerMatch,
} from './records.js';
import { repoLockKey } from './repo-lock-key.js';
import { runFromRow } from './row-mappers.js';
import {
  appendToLockedHead,
  appendToReadHead,
  type LockedHead,
  lockSessionHead,
} from './session-head.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';
import type { Dialect } from './store.js';

export interface ClaimRunInput {
  readonly owner: string;
  readonly nowIso: string;
  readonly leaseExpiresAt: string;
  readonly maxRunningPerRepo?: number;
  readonly runId?: string;
  /** Without it the claim ignores run requirements (a process claiming the run it reserved). */
  readonly match?: WorkerMatch;
  readonly events: (claimed: RunRecord) => readonly NewEvent[];
}

export interface ClaimedRun {
  readonly run: RunRecord;
  readonly events: StoredEvent[];
}

/**
 * Candidates one claim looks at before it gives up and returns null. Each one skipped is a run
 * whose session another writer holds at that instant (PostgreSQL only); a repo found full or
 * busy is skipped as a whole, so this bounds only a burst of such collisions.
 */
const MAX_CANDIDATES = 64;

/**
 * Claims the best claimable run (see Store.claimRun) in the caller's write transaction, then
 * appends its events under the session head.
 *
 * SQLite: the executor holds the database write lock (BEGIN IMMEDIATE) for the whole operation,
 * so nothing can change between choosing and claiming. The claim is one statement,
 * `UPDATE runs … WHERE id = (SELECT best candidate [whose repo runs < limit]) RETURNING *`.
 *
 * PostgreSQL (READ COMMITTED), per candidate, in this order:
 * 1. `SELECT … ORDER BY priority DESC, created_at, id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED`:
 *    the best claimable run no other transaction holds, locked; PostgreSQL re-checks the WHERE
 *    on the newest committed version of the row before returning it, so a run another claimer
 *    committed as running is never returned.
 * 2. `SELECT … FROM sessions … FOR NO KEY UPDATE SKIP LOCKED`: the session lock every writer of
 *    that session takes first (lockSessionHead), so fenced writes and recovery cannot interleave
 *    with the claim, and seqs stay gap-free. Skipped when another writer holds it.
 * 3. With a per-repo limit: `pg_try_advisory_xact_lock(repoLockKey(repo))`, then a fresh count of
 *    the repo's running runs. Every claimer of the repo holds that lock from before its count
 *    until its commit, and a commit is visible before its locks are released, so each count
 *    sees every earlier claim of the repo: two claimers cannot both take the last slot. A repo
 *    whose lock is busy or whose slots are full is skipped for the rest of this claim.
 * 4. The UPDATE, then the events chained after the session head read under the lock of step 2,
 *    and one UPDATE of the session row that reserves their seqs and records the new head (no
 *    other writer can change the head while this claim holds that lock).
 *
 * Deadlock freedom: every lock the claim takes is taken without waiting (SKIP LOCKED, a try-lock)
 * or is already held by it (the run's UPDATE, the session head UPDATE), so a claim never waits
 * on another transaction and cannot close a cycle of waits, although it locks the run before
 * the session while updateRun locks the session before the run.
 */
export function* claimRun(
  db: Kysely<DatabaseSchema>,
  dialect: Dialect,
  input: ClaimRunInput,
): SqlOperation<ClaimedRun | null> {
  if (dialect === 'sqlite') {
    const claimed = yield* claimOnSqlite(db, input);
    return claimed === undefined ? null : yield* recordClaim(db, claimed, input);
  }
  const claimed = yield* claimOnPostgres(db, input);
  return claimed === undefined ? null : yield* recordClaim(db, claimed.row, input, claimed.head);
}

/**
 * Claimable runs of `input`, best first, as `candidate`; `skipped` runs and repos left out.
 * With a `match`, a run is left out while one of its requirements is not among `offers`
 * (SQLite's cached statement passes its placeholders as `offers`, so the list is a parameter
 * per item, never text).
 */
function candidates(
  db: Kysely<DatabaseSchema>,
  input: ClaimRunInput,
  skipped: { runs: readonly string[]; repos: readonly string[] } = { runs: [], repos: [] },
  offers: readonly string[] = input.match?.offers ?? [],
) {
  const match = input.match;
  return (
    db
      .selectFrom('runs as candidate')
      // A literal, not a parameter: SQLite uses the partial index runs_queued_claim_order only
      // when the statement itself says status = 'queued'.
      .where('candidate.status', '=', sql.lit(RunStatus.queued))
      .where('candidate.cancel_requested_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('candidate.not_before', 'is', null),
          eb('candidate.not_before', '<=', input.nowIso),
        ]),
      )
      // Unleased, or reserved for this owner (a reservation by another process is its own).
      .where((eb) =>
        eb.or([
          eb('candidate.lease_owner', 'is', null),
          eb('candidate.lease_owner', '=', input.owner),
        ]),
      )
      .$if(input.runId !== undefined, (qb) => qb.where('candidate.id', '=', input.runId ?? ''))
      .$if(match !== undefined, (qb) =>
        qb.where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('run_requirements as unmet')
                .select('unmet.run_id')
                .whereRef('unmet.run_id', '=', 'candidate.id')
                .$if(match?.anyAgent === true, (sub) =>
                  sub.where('unmet.kind', '<>', sql.lit(RequirementKind.agent)),
                )
                .$if(offers.length > 0, (sub) => sub.where('unmet.requirement', 'not in', offers)),
            ),
          ),
        ),
      )
      .$if(skipped.runs.length > 0, (qb) => qb.where('candidate.id', 'not in', skipped.runs))
      .$if(skipped.repos.length > 0, (qb) => qb.where('candidate.repo', 'not in', skipped.repos))
      .orderBy('candidate.priority', 'desc')
      .orderBy('candidate.created_at')
      .orderBy('candidate.id')
      .limit(1)
  );
}

/** Everything a claim sets; the caller adds which run. */
function claimUpdate(db: Kysely<DatabaseSchema>, input: ClaimRunInput) {
  return db.updateTable('runs').set((eb) => ({
    status: RunStatus.running,
    lease_owner: input.owner,
    lease_expires_at: input.leaseExpiresAt,
    started_at: input.nowIso,
    updated_at: input.nowIso,
    not_before: null,
    fencing_token: eb('fencing_token', '+', 1),
    claim_count: eb('claim_count', '+', 1),
    version: eb('version', '+', 1),
  }));
}

/** SQLite, under the database write lock: choose and claim in one statement. */
function* claimOnSqlite(
  db: Kysely<DatabaseSchema>,
  input: ClaimRunInput,
): SqlOperation<RunRow | undefined> {
  const offers = input.match?.offers ?? [];
  const values: Record<string, unknown> = {
    owner: input.owner,
    nowIso: input.nowIso,
    leaseExpiresAt: input.leaseExpiresAt,
    ...(input.runId === undefined ? {} : { runId: input.runId }),
    ...(input.maxRunningPerRepo === undefined ? {} : { limit: input.maxRunningPerRepo }),
    ...Object.fromEntries(offers.map((offer, index) => [`offer${index}`, offer])),
  };
  // Everything that changes the SQL text: a worker's offers are a fixed list, so it reuses one.
  const matchShape =
    input.match === undefined ? 'none' : `${input.match.anyAgent}:${offers.length}`;
  const shape = `claimRun:${input.runId !== undefined}:${input.maxRunningPerRepo !== undefined}:${matchShape}`;
  const [row] = yield* rowsOf(
    cachedStatement(db, shape, values, (p) => {
      const placeholders: ClaimRunInput = {
        // Placeholders stand in for the values, whatever their type: they are bound later.
        owner: p.owner as string,
        nowIso: p.nowIso as string,
        leaseExpiresAt: p.leaseExpiresAt as string,
        ...(p.runId === undefined ? {} : { runId: p.runId as string }),
        ...(input.match === undefined ? {} : { match: input.match }),
        events: () => [],
      };
      const offerPlaceholders = offers.map((_, index) => p[`offer${index}`] as string);
      const best = candidates(db, placeholders, undefined, offerPlaceholders)
        .select('candidate.id')
        .$if(p.limit !== undefined, (qb) =>
          qb.where(
            (eb) =>
              eb
                .selectFrom('runs as busy')
                .select((count) => count.fn.countAll<number>().as('running'))
                .whereRef('busy.repo', '=', 'candidate.repo')
                .where('busy.status', '=', sql.lit(RunStatus.running)),
            '<',
            (p.limit ?? 0) as number,
          ),
        );
      return claimUpdate(db, placeholders).where('id', '=', best).returningAll();
    }),
  );
  return row;
}

/** PostgreSQL: lock a candidate, then its session, then its repo's slot, each without waiting. */
function* claimOnPostgres(
  db: Kysely<DatabaseSchema>,
  input: ClaimRunInput,
): SqlOperation<{ row: RunRow; head: LockedHead } | undefined> {
  const skipped = { runs: [] as string[], repos: [] as string[] };
  for (let looked = 0; looked < MAX_CANDIDATES; looked += 1) {
    const [candidate] = yield* rowsOf(
      candidates(db, input, skipped).selectAll('candidate').forNoKeyUpdate().skipLocked().compile(),
    );
    if (candidate === undefined) return undefined;
    const head = yield* tryLockSession(db, candidate.session_id);
    if (head === undefined) {
      skipped.runs.push(candidate.id);
      continue;
    }
    const limit = input.maxRunningPerRepo;
    if (limit !== undefined && !(yield* repoHasRoom(db, candidate.repo, limit))) {
      skipped.repos.push(candidate.repo);
      continue;
    }
    // Locked since the candidate SELECT: the status condition only guards the invariant.
    const [row] = yield* rowsOf(
      claimUpdate(db, input)
        .where('id', '=', candidate.id)
        .where('status', '=', RunStatus.queued)
        .returningAll()
        .compile(),
    );
    if (row !== undefined) return { row, head };
    skipped.runs.push(candidate.id);
  }
  return undefined;
}

/**
 * PostgreSQL: takes the session row lock unless another transaction holds it, and reads the
 * chain head under it (the newest committed version of the row, which no one else can change
 * until this transaction ends).
 */
function* tryLockSession(
  db: Kysely<DatabaseSchema>,
  sessionId: string,
): SqlOperation<LockedHead | undefined> {
  const [locked] = yield* rowsOf(
    db
      .selectFrom('sessions')
      .select(['id', 'last_seq', 'last_hash'])
      .where('id', '=', sessionId)
      .forNoKeyUpdate()
      .skipLocked()
      .compile(),
  );
  return locked === undefined
    ? undefined
    : { sessionId: locked.id, lastSeq: locked.last_seq, lastHash: locked.last_hash };
}

/** Whether `repo` runs fewer than `limit` runs, counted under the repo's claim lock. */
function* repoHasRoom(
  db: Kysely<DatabaseSchema>,
  repo: string,
  limit: number,
): SqlOperation<boolean> {
  const [lock] = yield* rowsOf(
    sql<{
      locked: boolean;
    }>`select pg_try_advisory_xact_lock(cast(${repoLockKey(repo)} as bigint)) as locked`.compile(
      db,
    ),
  );
  if (lock?.locked !== true) return false;
  // A statement of its own: under READ COMMITTED it sees every claim committed before the lock.
  const [count] = yield* rowsOf(
    db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll().as('running'))
      .where('repo', '=', repo)
      .where('status', '=', sql.lit(RunStatus.running))
      .compile(),
  );
  return Number(count?.running ?? 0) < limit;
}

/**
 * Appends the claim's events under the session head and mirrors the status on the session.
 * `lockedHead`: the head the claim read under the session lock it already holds (PostgreSQL).
 */
function* recordClaim(
  db: Kysely<DatabaseSchema>,
  claimedRow: RunRow,
  input: ClaimRunInput,
  lockedHead?: LockedHead,
): SqlOperation<ClaimedRun> {
  const events = input.events(runFromRow(claimedRow));
  let row = claimedRow;
  // A run's updated_at is the `at` of the last event of the change that dated it.
  const lastAt = events.at(-1)?.at;
  if (lastAt !== undefined && lastAt !== row.updated_at) {
    const [dated] = yield* rowsOf(
      db
        .updateTable('runs')
        .set({ updated_at: lastAt })
        .where('id', '=', row.id)
        .returningAll()
        .compile(),
    );
    row = dated ?? row;
  }
  const mirror = { status: row.status, reason_code: row.reason_code };
  if (lockedHead !== undefined) {
    const stored = yield* appendToReadHead(db, lockedHead, events, mirror);
    return { run: runFromRow(row), events: stored };
  }
  // Already locked by this transaction: reserves the seqs without waiting.
  const head = yield* lockSessionHead(db, { sessionId: row.session_id }, events);
  // runs.session_id references sessions: only a database edited by hand gets here.
  if (head === null)
    throw new AasError('INTERNAL', `run ${row.id} has no session ${row.session_id}`);
  const stored = yield* appendToLockedHead(db, head, events, mirror);
  return { run: runFromRow(row), events: stored };
}
