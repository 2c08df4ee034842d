import { type CompiledQuery, type Kysely, type SqlBool, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import { chainEvents } from './chain-events.js';
import {
  type Among,
  type CandidateExclusions,
  type ClaimedRun,
  type ClaimRunInput,
  candidates,
  claimEventsOf,
  type NotAmong,
} from './claim-candidates.js';
import { announcementPayload } from './commit-announcements.js';
import type { DatabaseSchema, RunRow } from './database-schema.js';
import { announced, type EventColumns, eventColumns, insertEventColumns } from './event-columns.js';
import { recordModelSpend } from './model-spend.js';
import { RunStatus } from './records.js';
import { repoLockKeySql } from './repo-lock-key.js';
import { runFromRow } from './row-mappers.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';

/**
 * Candidates one claim looks at before it gives up and returns null. Each one skipped is a run
 * whose repo was found full or busy (the statement itself passes over runs and sessions other
 * transactions hold), so this bounds only a burst of such collisions.
 */
const MAX_CANDIDATES = 64;

/** A candidate as the pick returns it: the run, its session's chain head, its repo's lock. */
type PickedRow = RunRow & {
  readonly head_seq: number;
  readonly head_hash: string;
  /** Only with a per-repo limit: whether the repo's claim lock was taken. */
  readonly repo_locked?: boolean;
};

/**
 * PostgreSQL (READ COMMITTED), two statements per candidate in the caller's transaction:
 *
 * 1. The pick: the best claimable run joined to its session, `LIMIT 1 FOR NO KEY UPDATE OF
 *    candidate, head SKIP LOCKED`. Both rows are locked, or the pair is passed over for the
 *    next one: a run another claimer holds, or whose session another writer holds (every writer
 *    of a session takes that row lock first, so fenced writes and recovery cannot interleave
 *    with the claim, and the head read with it stays the head until this transaction ends).
 *    PostgreSQL re-checks the WHERE on the newest committed version of a row it locks, so a run
 *    another claimer committed as running is never returned. With a per-repo limit the same
 *    statement tries the repo's advisory lock (`pg_try_advisory_xact_lock(repoLockKey)`), once,
 *    for the row picked.
 * 2. The write, one statement: the run's UPDATE (with a limit, only while a fresh count of the
 *    repo's running runs is below it), the events chained after the head read in 1, and the
 *    session row's new head and status. Being a later statement, it sees every claim committed
 *    before the repo lock was taken; every claimer of the repo holds that lock from before its
 *    count until its commit, so two claimers cannot both take the last slot. A repo whose lock
 *    is busy or whose slots are full is skipped for the rest of this claim.
 *
 * The events are chained before the write, from the run as the claim will leave it (the row is
 * locked, so the UPDATE's result is known); the write returns the row and the claim checks it.
 * Four round trips with BEGIN and COMMIT, where a pick, a session lock, the UPDATE, the insert
 * and the head update each took one.
 *
 * Deadlock freedom: every lock the claim takes is taken without waiting (SKIP LOCKED, a try-lock)
 * or is already held by it (the run's and session's UPDATEs), so a claim never waits on another
 * transaction and cannot close a cycle of waits, although it locks the run before the session
 * while updateRun locks the session before the run.
 */
export function* claimOnPostgres(
  db: Kysely<DatabaseSchema>,
  input: ClaimRunInput,
): SqlOperation<ClaimedRun | null> {
  const skipped = { runs: [] as string[], repos: [] as string[] };
  const limit = input.maxRunningPerRepo;
  for (let looked = 0; looked < MAX_CANDIDATES; looked += 1) {
    const [picked] = yield* rowsOf(pickStatement(db, input, skipped));
    if (picked === undefined) return null;
    if (limit !== undefined && picked.repo_locked !== true) {
      skipped.repos.push(picked.repo);
      continue;
    }
    const { head_seq: headSeq, head_hash: headHash, repo_locked: _, ...candidate } = picked;
    const claimed = claimedRow(candidate, input);
    const events = claimEventsOf(input, runFromRow(claimed));
    const chained = chainEvents(candidate.session_id, headSeq + 1, headHash, events);
    const last = chained.stored.at(-1);
    const values = {
      runId: candidate.id,
      owner: input.owner,
      leaseExpiresAt: input.leaseExpiresAt,
      nowIso: input.nowIso,
      // A run's updated_at is the `at` of the last event of the change that dated it.
      updatedAt: last?.at ?? input.nowIso,
      ...(limit === undefined ? {} : { limit }),
      sessionId: candidate.session_id,
      ...eventColumns(chained.rows),
      lastSeq: last?.seq ?? headSeq,
      lastHash: last?.hash ?? headHash,
      lastAt: last?.at ?? null,
      announcement:
        last === undefined
          ? null
          : (announcementPayload(db, candidate.session_id, headSeq + 1, last.seq) ?? null),
    };
    const [row] = yield* rowsOf(
      cachedStatement(db, `claimWrite:${limit !== undefined}`, values, (p) => {
        const write = claimWrite(p, p.limit);
        return { compile: () => write.compile(db) };
      }),
    );
    if (row === undefined) {
      // Locked since the pick, so only the repo's count can refuse it.
      if (limit === undefined) skipped.runs.push(candidate.id);
      else skipped.repos.push(candidate.repo);
      continue;
    }
    // The events were chained from the run as predicted; the row says what was written.
    if (row.fencing_token !== claimed.fencing_token || row.claim_count !== claimed.claim_count) {
      throw new AasError('INTERNAL', `run ${row.id} changed under its claim lock`, {
        runId: row.id,
      });
    }
    yield* recordModelSpend(db, candidate.session_id, chained.stored);
    return { run: runFromRow(row), events: chained.stored };
  }
  return null;
}

/** A queued run as a claim by `input` leaves it (the UPDATE of claimWrite, done in advance). */
function claimedRow(queued: RunRow, input: ClaimRunInput): RunRow {
  return {
    ...queued,
    status: RunStatus.running,
    lease_owner: input.owner,
    lease_expires_at: input.leaseExpiresAt,
    started_at: input.nowIso,
    updated_at: input.nowIso,
    not_before: null,
    fencing_token: queued.fencing_token + 1,
    claim_count: queued.claim_count + 1,
    version: queued.version + 1,
  };
}

/** `column` is one of the text array bound as `list`. */
export function among(list: unknown): Among {
  return (column) => sql<SqlBool>`${sql.ref(column)} = any(cast(${list} as text[]))`;
}

/** `column` is none of the text array bound as `list`. */
export function notAmong(list: unknown): NotAmong {
  return (column) => sql<SqlBool>`${sql.ref(column)} <> all(cast(${list} as text[]))`;
}

/**
 * The claim a cached candidates statement is built from: the placeholders `p` of what varies per
 * call (owner, time, run), and `match` itself, whose shape (not its offers) decides the text.
 */
function placeholderClaim(
  p: { readonly owner: string; readonly nowIso: string; readonly runId?: string },
  match: ClaimRunInput['match'],
): ClaimRunInput {
  return {
    owner: p.owner,
    nowIso: p.nowIso,
    leaseExpiresAt: '',
    ...(p.runId === undefined ? {} : { runId: p.runId }),
    ...(match === undefined ? {} : { match }),
  };
}

/** Statement 1: the best claimable run and its session, both locked without waiting. */
function pickStatement(
  db: Kysely<DatabaseSchema>,
  input: ClaimRunInput,
  skipped: { readonly runs: readonly string[]; readonly repos: readonly string[] },
) {
  const values = {
    owner: input.owner,
    nowIso: input.nowIso,
    ...(input.runId === undefined ? {} : { runId: input.runId }),
    ...(input.match === undefined ? {} : { offers: [...input.match.offers] }),
    skippedRuns: [...skipped.runs],
    skippedRepos: [...skipped.repos],
  };
  const limited = input.maxRunningPerRepo !== undefined;
  const matchShape = input.match === undefined ? 'none' : String(input.match.anyAgent);
  const shape = `claimPick:${input.runId !== undefined}:${limited}:${matchShape}`;
  const statement = cachedStatement(db, shape, values, (p) => {
    const placeholders = placeholderClaim(p, input.match);
    const exclusions: CandidateExclusions = {
      ...(p.offers === undefined ? {} : { unoffered: notAmong(p.offers) }),
      runs: notAmong(p.skippedRuns),
      repos: notAmong(p.skippedRepos),
    };
    const pick = candidates(db, placeholders, exclusions)
      .innerJoin('sessions as head', 'head.id', 'candidate.session_id')
      .selectAll('candidate')
      .select(['head.last_seq as head_seq', 'head.last_hash as head_hash'])
      .forNoKeyUpdate(['candidate', 'head'])
      .skipLocked();
    if (!limited) return pick;
    // Outside the locking subquery, so the try-lock runs once, for the row it returned.
    return db
      .selectFrom(pick.as('picked'))
      .selectAll('picked')
      .select(
        sql<boolean>`pg_try_advisory_xact_lock(${repoLockKeySql('picked.repo')})`.as('repo_locked'),
      );
  });
  // Either form returns the candidate's columns and its head; the limited one also repo_locked.
  return statement as CompiledQuery<PickedRow>;
}

/** Statement 2: the claim, its events and the session's new head, all or nothing. */
function claimWrite(
  p: Readonly<Record<string, unknown> & { [K in keyof EventColumns]: unknown }>,
  limit: unknown,
) {
  const room =
    limit === undefined
      ? sql``
      : sql`and (select count(*) from runs as busy
                 where busy.repo = runs.repo and busy.status = ${sql.lit(RunStatus.running)}) < ${limit}`;
  return sql<RunRow>`with claimed as (
      update runs set
        status = ${sql.lit(RunStatus.running)}, lease_owner = ${p.owner},
        lease_expires_at = ${p.leaseExpiresAt}, started_at = ${p.nowIso},
        updated_at = ${p.updatedAt}, not_before = null, fencing_token = fencing_token + 1,
        claim_count = claim_count + 1, version = version + 1
      where id = ${p.runId} and status = ${sql.lit(RunStatus.queued)} ${room}
      returning *
    ), appended as (
      ${insertEventColumns(p.sessionId, p, sql<SqlBool>`exists (select from claimed)`)}
    ), head as (
      update sessions set
        last_seq = ${p.lastSeq}, last_hash = ${p.lastHash},
        updated_at = coalesce(${p.lastAt}, sessions.updated_at),
        status = claimed.status, reason_code = claimed.reason_code
      from claimed where sessions.id = claimed.session_id
    )
    select claimed.*, ${announced(p.announcement)} from claimed`;
}
