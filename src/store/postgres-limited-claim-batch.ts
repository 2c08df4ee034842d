import { type CompiledQuery, type Kysely, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import { type ClaimRunInput, runningOfCandidateRepo } from './claim-candidates.js';
import { announcementOrigin } from './commit-announcements.js';
import type { DatabaseSchema } from './database-schema.js';
import {
  type BatchClaim,
  batchAnswers,
  type ClaimedBatchRow,
  candidatePin,
  claimBatchWrite,
  claimersCandidates,
  claimerValues,
  mayTake,
} from './postgres-claim-batch.js';
import { statementCapacity } from './power-of-two-chunks.js';
import { RunStatus } from './records.js';
import { repoLockKeySql } from './repo-lock-key.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';

/** A run the pick looked at: whether its repo's claim lock was taken, for whom it may be. */
interface LookedRow {
  readonly id: string;
  readonly lease_owner: string | null;
  readonly pin: string | null;
  readonly taken: boolean;
}

/**
 * PostgreSQL (READ COMMITTED): the claims of several claimers that share a per-repo limit
 * (`maxRunningPerRepo`, the server's default) and a match but for their pins (the workers'
 * own names, postgres-batches.ts), in ONE transaction of two statements, where each claim
 * alone takes a transaction of its own (postgres-claim.ts). Run
 * by the caller in a transaction; the store sends batches of two or more here, and a lone claim
 * to postgres-claim.ts, whose statements are simpler.
 *
 * 1. The pick: the best claimable runs whose repo this statement's snapshot shows below the
 *    limit, locked with their sessions `FOR NO KEY UPDATE SKIP LOCKED` (as every claim locks),
 *    and each of their repos' claim lock tried once (`pg_try_advisory_xact_lock(repoLockKey)`,
 *    the lock the single claim takes). Runs of a repo whose lock another claim holds are left.
 * 2. The claim (claimBatchWrite): of the picked runs in locked repos, at most as many per repo
 *    as a fresh count of its running runs leaves room for, handed out as the unlimited batch
 *    hands them out. Being a later statement, its snapshot holds every claim committed before
 *    this transaction took the repos' locks, and every other limited claimer of those repos
 *    holds their lock from before its count until its commit, so no two claims can both take a
 *    repo's last slot. The count cannot be in the pick: there the snapshot predates the lock.
 *
 * The pick looks at as many runs as there are claimers (rounded up to a power of two). A
 * claimer left without a run asks again in the next batch when the pick looked at a run it may
 * take and did not claim it: the run's repo was full (claimable runs of other repos may lie
 * behind it, and the next snapshot shows the full repo full), busy, or filled by a run no
 * claimer got (another worker's second pinned run). It claims alone when the pick was full of
 * runs pinned to others. Either only after a batch that claimed something, and the store bounds
 * how often one claim asks again (postgres-batches.ts), so claimers never spin. A batch that
 * claimed nothing although it found runs (all in busy or full repos) sends its claimers to the
 * single claim (`alone`), which passes over such repos and looks further,
 * up to its own bound. Deadlock freedom is the single claim's: every lock is taken without
 * waiting or is already held.
 */
export function* claimLimitedBatchOnPostgres(
  db: Kysely<DatabaseSchema>,
  inputs: readonly ClaimRunInput[],
): SqlOperation<BatchClaim[]> {
  const first = inputs[0];
  if (first === undefined) return [];
  const limit = first.maxRunningPerRepo;
  if (limit === undefined || inputs.some((input) => input.maxRunningPerRepo !== limit)) {
    throw new AasError('INTERNAL', 'a limited claim batch needs one per-repo limit');
  }
  const capacity = statementCapacity(inputs.length);
  const claimers = claimerValues(inputs);
  const matchShape = first.match === undefined ? 'none' : String(first.match.anyAgent);
  const pickValues = {
    owners: claimers.owners,
    eligibleAt: claimers.eligibleAt,
    limit,
    ...(claimers.offers === undefined ? {} : { offers: claimers.offers }),
  };
  const pick = cachedStatement(
    db,
    `limitedClaimPick:${capacity}:${matchShape}`,
    pickValues,
    (p) => {
      const locked = claimersCandidates(db, first.match, p, capacity)
        .where(runningOfCandidateRepo(), '<', p.limit)
        .innerJoin('sessions as head', 'head.id', 'candidate.session_id')
        .select(['candidate.id', 'candidate.repo', 'candidate.lease_owner'])
        .select(candidatePin(first.match).as('pin'))
        .forNoKeyUpdate(['candidate', 'head'])
        .skipLocked();
      // Materialized, so that each repo's lock is tried exactly once.
      const statement = sql<LookedRow>`with picked as materialized (
        ${locked}
      ), repos as materialized (
        select distinct picked.repo from picked
      ), locks as materialized (
        select repos.repo, pg_try_advisory_xact_lock(${repoLockKeySql('repos.repo')}) as taken
        from repos
      )
      select picked.id, picked.lease_owner, picked.pin, locks.taken
      from picked join locks on locks.repo = picked.repo`;
      return { compile: () => statement.compile(db) };
    },
  ) as CompiledQuery<LookedRow>;
  const looked = yield* rowsOf(pick);
  if (looked.length === 0) return inputs.map(() => ({ outcome: 'none' }));
  const picked = looked.filter((row) => row.taken);
  if (picked.length === 0) return inputs.map(() => ({ outcome: 'alone' }));

  // The write hands runs out by owner and pin and needs no offers: the pick applied them.
  const { offers: _offers, ...forWrite } = claimers;
  const values = {
    ...forWrite,
    limit,
    runIds: picked.map((row) => row.id),
    // Their pins as the pick found them, so the write need not look them up again.
    runPins: picked.map((row) => row.pin),
    origin: announcementOrigin(db) ?? null,
  };
  const write = cachedStatement(db, `limitedClaimWrite:${capacity}`, values, (p) => {
    // The runs the pick locked that a claimer may take (by owner and pin: one no claimer may
    // take must not use up its repo's room), as many per repo as its running runs leave room
    // for now.
    const room = sql`select ranked.id, ranked.session_id, ranked.priority, ranked.created_at,
        ranked.lease_owner, ranked.head_seq, ranked.head_hash, ranked.pin
      from (
        select candidate.id, candidate.session_id, candidate.priority, candidate.created_at,
          candidate.lease_owner, head.last_seq as head_seq, head.last_hash as head_hash,
          picked.pin,
          row_number() over (
            partition by candidate.repo
            order by candidate.priority desc, candidate.created_at, candidate.id
          ) as repo_rank,
          ${runningOfCandidateRepo()} as repo_running
        from unnest(cast(${p.runIds} as text[]), cast(${p.runPins} as text[]))
          as picked(id, pin)
        join runs as candidate on candidate.id = picked.id
        join sessions as head on head.id = candidate.session_id
        where candidate.status = ${sql.lit(RunStatus.queued)}
          and exists (
            select from claimers
            where (candidate.lease_owner is null or claimers.owner = candidate.lease_owner)
              and (picked.pin is null or claimers.pin = picked.pin)
          )
      ) as ranked
      where ranked.repo_rank <= cast(${p.limit} as integer) - ranked.repo_running`;
    const statement = claimBatchWrite(p, room);
    return { compile: () => statement.compile(db) };
  }) as CompiledQuery<ClaimedBatchRow>;
  const rows = yield* rowsOf(write);
  const claimedIds = new Set(rows.flatMap((row) => (row.claimer === null ? [] : [row.id])));
  const unclaimed = looked.filter((row) => !claimedIds.has(row.id));
  // After a batch that claimed something, a claimer left without a run asks again when the pick
  // looked at a run it may take and did not claim it (its repo was full or busy, or a run no
  // claimer got, such as another's second pinned run, took its repo's room), and claims alone
  // when the pick was full of runs it may not take (pinned to the others): the single claim
  // looks only at runs it may take.
  // (A batch that claimed nothing sends everyone alone, below.)
  const answers = batchAnswers(inputs, rows, (input) => {
    if (unclaimed.some((row) => mayTake(input, row.lease_owner, row.pin))) return 'again';
    return looked.length >= capacity ? 'alone' : 'none';
  });
  if (answers.some((answer) => answer.outcome === 'claimed')) return answers;
  // Everything it looked at was in a busy or full repo: the single claim passes over those.
  return inputs.map(() => ({ outcome: 'alone' }));
}
