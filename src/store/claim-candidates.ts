import { type Expression, type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely';
import { claimStartedEvent } from './claim-started-event.js';
import type { DatabaseSchema } from './database-schema.js';
import {
  type NewEvent,
  RequirementKind,
  type RunRecord,
  RunStatus,
  type StoredEvent,
  type WorkerMatch,
} from './records.js';

/**
 * What a claim asks for and which runs it may take: shared by the SQLite claim (claim-run.ts)
 * and the PostgreSQL ones (postgres-claim.ts, which claim-run.ts dispatches to, and
 * postgres-claim-batch.ts), so none of them imports another's dispatcher.
 */

export interface ClaimRunInput {
  readonly owner: string;
  readonly nowIso: string;
  readonly leaseExpiresAt: string;
  readonly maxRunningPerRepo?: number;
  readonly runId?: string;
  /** Without it the claim ignores run requirements (a process claiming the run it reserved). */
  readonly match?: WorkerMatch;
  /**
   * The claim's events, given the run as the claim leaves it; without it, the claim records
   * `claimStartedEvent` (which lets PostgreSQL claim in one statement, several claims at once:
   * postgres-claim-batch.ts). Must depend on nothing else and do nothing else: on PostgreSQL it
   * is called before the run is written.
   */
  readonly events?: (claimed: RunRecord) => readonly NewEvent[];
}

/** The events `input` records for the run as its claim leaves it. */
export function claimEventsOf(input: ClaimRunInput, claimed: RunRecord): readonly NewEvent[] {
  return input.events === undefined ? [claimStartedEvent(claimed, input)] : input.events(claimed);
}

export interface ClaimedRun {
  readonly run: RunRecord;
  readonly events: StoredEvent[];
}

/**
 * How a dialect states that a value is not among a list: SQLite binds one placeholder per
 * item (`not in (…)`), PostgreSQL one array parameter (`<> all(…)`), which keeps the statement
 * text the same whatever the list's length.
 */
export type NotAmong = (column: string) => Expression<SqlBool>;

/** The opposite test: `column` is one of a list. */
export type Among = (column: string) => Expression<SqlBool>;

/** Which runs `candidates` leaves out besides those not claimable. */
export interface CandidateExclusions {
  /** Runs whose requirements are not all among the worker's offers (with `input.match`). */
  readonly unoffered?: NotAmong;
  /** Runs (PostgreSQL: looked at and skipped earlier in the same claim). */
  readonly runs?: NotAmong;
  /** Repositories (PostgreSQL: found full or busy earlier in the same claim). */
  readonly repos?: NotAmong;
  /**
   * Which owners' reservations count, in place of `input.owner`'s: a claim made for several
   * owners at once (postgres-claim-batch.ts) takes runs reserved for any of them.
   */
  readonly reservedFor?: Among;
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
  const { unoffered, runs, repos, reservedFor } = exclusions;
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
          reservedFor === undefined
            ? eb('candidate.lease_owner', '=', input.owner)
            : reservedFor('candidate.lease_owner'),
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

/**
 * The running runs of `candidate.repo` (the alias `candidates` gives its runs): what a
 * per-repository limit is checked against, through the partial index of running runs.
 */
export function runningOfCandidateRepo(): RawBuilder<number> {
  return sql<number>`(select count(*) from runs as busy
    where busy.repo = candidate.repo and busy.status = ${sql.lit(RunStatus.running)})`;
}
