import { type Expression, type Kysely, type SqlBool, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema, RunRow } from './database-schema.js';
import { claimOnPostgres } from './postgres-claim.js';
import {
  type NewEvent,
  RequirementKind,
  type RunRecord,
  RunStatus,
  type StoredEvent,
  type WorkerMatch,
} from './records.js';
import { runFromRow } from './row-mappers.js';
import { appendToLockedHead, lockSessionHead } from './session-head.js';
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
  /**
   * The claim's events, given the run as the claim leaves it. Must depend on nothing else and
   * do nothing else: on PostgreSQL it is called before the run is written, once for every run
   * the claim may take (postgres-claim-at-peek.ts).
   */
  readonly events: (claimed: RunRecord) => readonly NewEvent[];
}

export interface ClaimedRun {
  readonly run: RunRecord;
  readonly events: StoredEvent[];
}

/**
 * Claims the best claimable run (see Store.claimRun) in the caller's write transaction and
 * appends its events under the session head.
 *
 * SQLite: the executor holds the database write lock (BEGIN IMMEDIATE) for the whole operation,
 * so nothing can change between choosing and claiming. The claim is one statement,
 * `UPDATE runs … WHERE id = (SELECT best candidate [whose repo runs < limit]) RETURNING *`,
 * then the events are appended under the session head like any other write's.
 *
 * PostgreSQL: see postgres-claim.ts.
 */
export function* claimRun(
  db: Kysely<DatabaseSchema>,
  dialect: Dialect,
  input: ClaimRunInput,
): SqlOperation<ClaimedRun | null> {
  if (dialect === 'postgres') return yield* claimOnPostgres(db, input);
  const claimed = yield* claimOnSqlite(db, input);
  return claimed === undefined ? null : yield* recordClaim(db, claimed, input);
}

/**
 * How a dialect states that a value is not among a list: SQLite binds one placeholder per
 * item (`not in (…)`), PostgreSQL one array parameter (`<> all(…)`), which keeps the statement
 * text the same whatever the list's length.
 */
export type NotAmong = (column: string) => Expression<SqlBool>;

/** Which runs `candidates` leaves out besides those not claimable. */
export interface CandidateExclusions {
  /** Runs whose requirements are not all among the worker's offers (with `input.match`). */
  readonly unoffered?: NotAmong;
  /** Runs (PostgreSQL: looked at and skipped earlier in the same claim). */
  readonly runs?: NotAmong;
  /** Repositories (PostgreSQL: found full or busy earlier in the same claim). */
  readonly repos?: NotAmong;
}

/**
 * The `count` best claimable runs of `input`, best first, as `candidate`. With a `match`, a run
 * is left out while one of its requirements is not among the offers (`exclusions.unoffered`;
 * none means the worker offers nothing).
 */
export function candidates(
  db: Kysely<DatabaseSchema>,
  input: ClaimRunInput,
  exclusions: CandidateExclusions = {},
  count = 1,
) {
  const match = input.match;
  const { unoffered, runs, repos } = exclusions;
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
                .$if(unoffered !== undefined, (sub) =>
                  sub.where(unoffered?.('unmet.requirement') ?? sql.lit(true)),
                ),
            ),
          ),
        ),
      )
      .$if(runs !== undefined, (qb) => qb.where(runs?.('candidate.id') ?? sql.lit(true)))
      .$if(repos !== undefined, (qb) => qb.where(repos?.('candidate.repo') ?? sql.lit(true)))
      .orderBy('candidate.priority', 'desc')
      .orderBy('candidate.created_at')
      .orderBy('candidate.id')
      // A literal: a prepared statement's generic plan then knows how few rows are wanted.
      .limit(sql.lit(count))
  );
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
      const unoffered: NotAmong | undefined =
        offerPlaceholders.length === 0
          ? undefined
          : (column) => sql<SqlBool>`${sql.ref(column)} not in (${sql.join(offerPlaceholders)})`;
      const best = candidates(db, placeholders, unoffered === undefined ? {} : { unoffered })
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
      return db
        .updateTable('runs')
        .set((eb) => ({
          status: RunStatus.running,
          lease_owner: placeholders.owner,
          lease_expires_at: placeholders.leaseExpiresAt,
          started_at: placeholders.nowIso,
          updated_at: placeholders.nowIso,
          not_before: null,
          fencing_token: eb('fencing_token', '+', 1),
          claim_count: eb('claim_count', '+', 1),
          version: eb('version', '+', 1),
        }))
        .where('id', '=', best)
        .returningAll();
    }),
  );
  return row;
}

/** SQLite: appends the claim's events under the session head and mirrors the status on it. */
function* recordClaim(
  db: Kysely<DatabaseSchema>,
  claimedRow: RunRow,
  input: ClaimRunInput,
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
  const head = yield* lockSessionHead(db, { sessionId: row.session_id }, events);
  // runs.session_id references sessions: only a database edited by hand gets here.
  if (head === null)
    throw new AasError('INTERNAL', `run ${row.id} has no session ${row.session_id}`);
  const mirror = { status: row.status, reason_code: row.reason_code };
  const stored = yield* appendToLockedHead(db, head, events, mirror);
  return { run: runFromRow(row), events: stored };
}
