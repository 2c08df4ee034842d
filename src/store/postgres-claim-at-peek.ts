import { type CompiledQuery, type Kysely, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import { chainEvents } from './chain-events.js';
import { type ClaimedRun, type ClaimRunInput, candidates } from './claim-candidates.js';
import { announcementPayload } from './commit-announcements.js';
import type { DatabaseSchema, EventRow, RunRow } from './database-schema.js';
import { announced, eventColumns } from './event-columns.js';
import { MODEL_USAGE_EVENT } from './model-spend.js';
import { claimedRow, notAmong, placeholderClaim } from './postgres-claim.js';
import { RunStatus, type StoredEvent } from './records.js';
import { runFromRow } from './row-mappers.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';

/**
 * Runs one claim offers its write, best first. The write takes the first one no other claimer
 * holds or has changed since the read: claimers reading at about the same moment see the same
 * best runs, and each one being claimed is passed over. With 8 concurrent claimers (the fleet
 * bench) every run offered had been taken in ~0.4% of claims with 8 offered, 16% with 4 and
 * 84% with 2; such a claim falls back to the locking path (four statements instead of two), and
 * each run offered costs its events' hashing and a row to read.
 */
export const PEEKED_CANDIDATES = 8;

type PeekedRow = RunRow & { readonly head_seq: number; readonly head_hash: string };

/**
 * What claimAtPeek found: a claim, no claimable run at all, runs that were all taken or changed
 * before the write reached them, or claim events that record model spend (which only the
 * locking path records). The caller claims through the locking path after the last two.
 */
export type PeekedClaim =
  | { readonly outcome: 'claimed'; readonly claimed: ClaimedRun }
  | { readonly outcome: 'none' }
  | { readonly outcome: 'overtaken' }
  | { readonly outcome: 'spends' };

/**
 * PostgreSQL, without a per-repo limit: a claim in two statements and no transaction.
 *
 * 1. A plain read of the best claimable runs with their sessions' chain heads.
 * 2. One statement that locks the first of them whose run row is still at the version read and
 *    whose session head is still the head read, both `FOR NO KEY UPDATE SKIP LOCKED` (so it
 *    waits for no one), claims it, inserts its events and records the session's new head.
 *    PostgreSQL re-checks a locked row against the statement's conditions on its newest
 *    committed version, so a run claimed or changed since the read (its version moved; its
 *    requirements, the other thing the read checked, are written with it and never change) or a
 *    session written since (its seq moved) is passed over, never claimed twice or chained from
 *    a stale head. A statement is atomic: all of it is written, or none.
 *
 * Every run's events are chained before the write, from the run as the claim would leave it
 * (`input.events` is called once per run offered) and from the head read; the write applies
 * the chain of the run it took. Same locks as the locking path (run and session, without
 * waiting), same checks, same seqs: two round trips where BEGIN, the pick, the write and COMMIT
 * take four. A per-repo limit needs its count taken after the repo's lock, in a later statement
 * of one transaction, so limited claims always take the locking path.
 */
export function* claimAtPeek(
  db: Kysely<DatabaseSchema>,
  input: ClaimRunInput,
): SqlOperation<PeekedClaim> {
  const peeked = yield* rowsOf(peekStatement(db, input));
  if (peeked.length === 0) return { outcome: 'none' };
  const offers = peeked.map((row) => offerOf(row, input));
  if (offers.some((offer) => offer.stored.some((stored) => stored.type === MODEL_USAGE_EVENT))) {
    return { outcome: 'spends' };
  }
  const rows = offers.flatMap((offer, index) =>
    offer.rows.map((row) => ({ rank: index + 1, row })),
  );
  const values = {
    owner: input.owner,
    leaseExpiresAt: input.leaseExpiresAt,
    nowIso: input.nowIso,
    ids: peeked.map((row) => row.id),
    versions: peeked.map((row) => row.version),
    headSeqs: peeked.map((row) => row.head_seq),
    headHashes: peeked.map((row) => row.head_hash),
    updatedAts: offers.map((offer) => offer.last?.at ?? input.nowIso),
    lastSeqs: offers.map((offer, index) => offer.last?.seq ?? peeked[index]?.head_seq),
    lastHashes: offers.map((offer, index) => offer.last?.hash ?? peeked[index]?.head_hash),
    lastAts: offers.map((offer) => offer.last?.at ?? null),
    announcements: offers.map((offer, index) => {
      const first = offer.stored[0];
      const session = peeked[index]?.session_id;
      return first === undefined || offer.last === undefined || session === undefined
        ? null
        : (announcementPayload(db, session, first.seq, offer.last.seq) ?? null);
    }),
    ranks: rows.map((entry) => entry.rank),
    ...eventColumns(rows.map((entry) => entry.row)),
  };
  const statement = cachedStatement(db, 'claimAtPeek', values, (p) => {
    const write = claimWrite(p);
    return { compile: () => write.compile(db) };
  }) as CompiledQuery<RunRow & { readonly rank: string | number; readonly announced: unknown }>;
  const [written] = yield* rowsOf(statement);
  if (written === undefined) return { outcome: 'overtaken' };
  const { rank, announced: _, ...row } = written;
  const offer = offers[Number(rank) - 1];
  if (offer === undefined || offer.fencingToken !== row.fencing_token) {
    // The events were chained for the run as it was read; the row says what was written.
    throw new AasError('INTERNAL', `run ${row.id} was claimed from a state it was not read in`, {
      runId: row.id,
    });
  }
  return { outcome: 'claimed', claimed: { run: runFromRow(row), events: offer.stored } };
}

/** A run offered to the write: its claim's events, chained after the head read with it. */
function offerOf(
  row: PeekedRow,
  input: ClaimRunInput,
): {
  rows: EventRow[];
  stored: StoredEvent[];
  last: StoredEvent | undefined;
  fencingToken: number;
} {
  const { head_seq: headSeq, head_hash: headHash, ...run } = row;
  const claimed = claimedRow(run, input);
  const chained = chainEvents(
    run.session_id,
    headSeq + 1,
    headHash,
    input.events(runFromRow(claimed)),
  );
  return {
    rows: chained.rows,
    stored: chained.stored,
    last: chained.stored.at(-1),
    fencingToken: claimed.fencing_token,
  };
}

/** Statement 1: the best claimable runs and their heads, read without locking. */
function peekStatement(db: Kysely<DatabaseSchema>, input: ClaimRunInput) {
  const values = {
    owner: input.owner,
    nowIso: input.nowIso,
    ...(input.runId === undefined ? {} : { runId: input.runId }),
    ...(input.match === undefined ? {} : { offers: [...input.match.offers] }),
  };
  const matchShape = input.match === undefined ? 'none' : String(input.match.anyAgent);
  const shape = `claimPeek:${input.runId !== undefined}:${matchShape}`;
  const statement = cachedStatement(db, shape, values, (p) => {
    return candidates(
      db,
      placeholderClaim(p, input.match),
      p.offers === undefined ? {} : { unoffered: notAmong(p.offers) },
      PEEKED_CANDIDATES,
    )
      .innerJoin('sessions as head', 'head.id', 'candidate.session_id')
      .selectAll('candidate')
      .select(['head.last_seq as head_seq', 'head.last_hash as head_hash']);
  });
  return statement as CompiledQuery<PeekedRow>;
}

/** Statement 2: the first offered run still as read, claimed with its events and new head. */
function claimWrite(p: Readonly<Record<string, unknown>>) {
  return sql<RunRow & { rank: string }>`with offered as (
      select * from unnest(
        cast(${p.ids} as text[]), cast(${p.versions} as integer[]),
        cast(${p.headSeqs} as integer[]), cast(${p.headHashes} as text[])
      ) with ordinality as o(id, version, head_seq, head_hash, rank)
    ), picked as (
      select candidate.id, o.rank
      from offered as o
      join runs as candidate on candidate.id = o.id
      join sessions as head on head.id = candidate.session_id
      where candidate.version = o.version and candidate.status = ${sql.lit(RunStatus.queued)}
        and head.last_seq = o.head_seq and head.last_hash = o.head_hash
      order by o.rank
      limit 1
      for no key update of candidate, head skip locked
    ), claimed as (
      update runs set
        status = ${sql.lit(RunStatus.running)}, lease_owner = ${p.owner},
        lease_expires_at = ${p.leaseExpiresAt}, started_at = ${p.nowIso},
        updated_at = (cast(${p.updatedAts} as text[]))[picked.rank], not_before = null,
        fencing_token = fencing_token + 1, claim_count = claim_count + 1, version = version + 1
      from picked where runs.id = picked.id
      returning runs.*, picked.rank
    ), appended as (
      insert into events (session_id, seq, type, at, actor, data, prev_hash, hash)
      select claimed.session_id, e.seq, e.type, e.at, e.actor, e.data, e.prev_hash, e.hash
      from unnest(
        cast(${p.ranks} as bigint[]), cast(${p.seqs} as integer[]), cast(${p.types} as text[]),
        cast(${p.ats} as text[]), cast(${p.actors} as text[]), cast(${p.datas} as text[]),
        cast(${p.prevHashes} as text[]), cast(${p.hashes} as text[])
      ) as e(rank, seq, type, at, actor, data, prev_hash, hash)
      join claimed on claimed.rank = e.rank
    ), head_update as (
      update sessions set
        last_seq = (cast(${p.lastSeqs} as integer[]))[claimed.rank],
        last_hash = (cast(${p.lastHashes} as text[]))[claimed.rank],
        updated_at = coalesce((cast(${p.lastAts} as text[]))[claimed.rank], sessions.updated_at),
        status = claimed.status, reason_code = claimed.reason_code
      from claimed where sessions.id = claimed.session_id
    )
    select claimed.*,
      ${announced(sql`(cast(${p.announcements} as text[]))[claimed.rank]`)}
    from claimed`;
}
