import { type CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import { type ClaimedRun, type ClaimRunInput, candidates } from './claim-candidates.js';
import { announcementOrigin, statementAnnouncementSql } from './commit-announcements.js';
import type { DatabaseSchema, RunRow } from './database-schema.js';
import { among, notAmong } from './postgres-claim.js';
import { statementCapacity } from './power-of-two-chunks.js';
import { RequirementKind, RunStatus, type StoredEvent, type WorkerMatch } from './records.js';
import { runFromRow } from './row-mappers.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';

/** Claims one statement makes at most: claimers beyond it wait for the next statement. */
export const MAX_CLAIMS_PER_STATEMENT = 16;

/**
 * One claimer's answer: its claim, none (nothing claimable), again (ask in the next batch), or
 * alone (claim through the single claim's transaction, which looks further).
 */
export type BatchClaim =
  | { readonly outcome: 'claimed'; readonly claimed: ClaimedRun }
  | { readonly outcome: 'none' }
  | { readonly outcome: 'again' }
  | { readonly outcome: 'alone' };

export type ClaimedBatchRow = RunRow & {
  /** The picked runs no claimer got, as JSON `[[leaseOwner, pin], …]`, or null when none. */
  readonly left_over: string | null;
  readonly claimer: string | number | null;
  readonly owner_json: string;
  readonly lease_json: string;
  readonly now_json: string;
  readonly announced: unknown;
  readonly head_seq: number;
  readonly head_hash: string;
  readonly data: string;
  readonly hash: string;
};

/**
 * PostgreSQL: the claims of several claimers in ONE statement, each recording the standard
 * `run.started` (claimStartedEvent). `inputs` share their match but for their pins (the same offers
 * but each worker's own name, or none; postgres-batches.ts) and have no run id, no per-repo limit
 * and no events of their own; the store batches only such claims here (kysely-store.ts), and those
 * with a limit in postgres-limited-claim-batch.ts.
 *
 * The statement locks the best claimable runs together with their sessions, `FOR NO KEY UPDATE SKIP
 * LOCKED` as every PostgreSQL claim does (so it waits for no one, and PostgreSQL re-checks each
 * locked row on its newest committed version), keeps the first run of each session that a claimer
 * may take, hands them out (claimBatchWrite: a reserved run to a claimer of its owner, a pinned run
 * to the claimer of its pin, the others in order), and for each claims the run, appends its
 * `run.started` after the head it locked, and records the session's new head and status. The
 * event's canonical JSON and SHA-256 are computed by the server from the locked head, so there is
 * nothing to read first: one round trip and one commit for up to MAX_CLAIMS_PER_STATEMENT claims,
 * where claimAtPeek takes two for one. Strings that come from callers (owner, times) arrive already
 * JSON-encoded by JSON.stringify; ids and hashes are encoded by `to_json`, which escapes text
 * exactly as JSON.stringify does (test/store/queue-fast-paths.test.ts verifies the chain of claims
 * by owners that need every kind of escape, and `aas audit verify` would find a difference). A
 * session has one run through the store's own writes; should several of its runs be queued at once,
 * a statement claims at most one of them (the first a claimer may take, if it is handed out) and
 * the claimers left over that could have had another ask again.
 *
 * A claimer is answered `again` when its batch left runs unclaimed that it could have had (two of
 * one session were picked, only one can be chained per statement), and `alone` when the batch
 * picked as many runs as it could but none it could have (runs pinned to the other claimers crowded
 * the pick; the single claim looks only at runs it may take).
 */
export function* claimBatchOnPostgres(
  db: Kysely<DatabaseSchema>,
  inputs: readonly ClaimRunInput[],
): SqlOperation<BatchClaim[]> {
  const first = inputs[0];
  if (first === undefined) return [];
  const limit = statementCapacity(inputs.length);
  const values = { ...claimerValues(inputs), origin: announcementOrigin(db) ?? null };
  const matchShape = first.match === undefined ? 'none' : String(first.match.anyAgent);
  const statement = cachedStatement(db, `claimBatch:${limit}:${matchShape}`, values, (p) => {
    const pick = claimersCandidates(db, first.match, p, limit)
      .innerJoin('sessions as head', 'head.id', 'candidate.session_id')
      .select([
        'candidate.id',
        'candidate.session_id',
        'candidate.priority',
        'candidate.created_at',
        'candidate.lease_owner',
        'head.last_seq as head_seq',
        'head.last_hash as head_hash',
        candidatePin(first.match).as('pin'),
      ])
      .forNoKeyUpdate(['candidate', 'head'])
      .skipLocked();
    const write = claimBatchWrite(p, pick);
    return { compile: () => write.compile(db) };
  }) as CompiledQuery<ClaimedBatchRow>;
  // A claimer the picked runs left nothing it could have had, although more runs may lie behind
  // them (runs pinned to other claimers filled the pick), claims alone: the single claim looks
  // only at runs it may take.
  return batchAnswers(inputs, yield* rowsOf(statement), (_input, picked) =>
    picked >= limit ? 'alone' : 'none',
  );
}

/**
 * The `count` best runs any of the claimers bound in `p` (claimerValues) may claim: a run
 * reserved for one of them, or for no one.
 */
export function claimersCandidates(
  db: Kysely<DatabaseSchema>,
  match: WorkerMatch | undefined,
  p: { readonly eligibleAt: string; readonly owners: unknown; readonly offers?: unknown },
  count: number,
) {
  return candidates(
    db,
    {
      owner: '',
      nowIso: p.eligibleAt,
      leaseExpiresAt: '',
      ...(match === undefined ? {} : { match }),
    },
    {
      ...(p.offers === undefined ? {} : { unoffered: notAmong(p.offers) }),
      reservedFor: among(p.owners),
    },
    count,
  );
}

/** The pins `match` offers (`worker:<name>`): a worker offers its own name, once. */
export function pinsOf(match: WorkerMatch): string[] {
  const prefix = `${RequirementKind.worker}:`;
  return match.offers.filter((offer) => offer.startsWith(prefix));
}

/** The pin `input` claims with (its worker's name), or null. */
function claimerPin(input: ClaimRunInput): string | null {
  return input.match === undefined ? null : (pinsOf(input.match)[0] ?? null);
}

/**
 * The worker `candidate` is pinned to (its `worker:` requirement): null when none, '' when it
 * names several (no claimer offers two pins, postgres-batches.ts). Always null for claims with
 * no match, which ignore requirements.
 */
export function candidatePin(match: WorkerMatch | undefined): RawBuilder<string | null> {
  if (match === undefined) return sql<string | null>`cast(null as text)`;
  return sql<string | null>`(select case when count(*) = 0 then null
      when min(pinned.requirement) = max(pinned.requirement) then min(pinned.requirement)
      else '' end
    from run_requirements as pinned
    where pinned.run_id = candidate.id and pinned.kind = ${sql.lit(RequirementKind.worker)})`;
}

/**
 * What a claim statement binds for its claimers (claimBatchWrite's `p`), shared by both kinds.
 * Both call it before they write anything: after the commit nothing may throw (see claimedOf).
 * The claimers share their offers but for their pins; the runs they look at may need any of the
 * shared offers and any one of their pins (`offers`), and a pinned run goes only to the claimer
 * of its pin (`pins`, claimBatchWrite).
 */
export function claimerValues(inputs: readonly ClaimRunInput[]) {
  const first = inputs[0];
  if (first === undefined) throw new AasError('INTERNAL', 'a claim batch needs a claimer');
  if (inputs.length > MAX_CLAIMS_PER_STATEMENT) {
    throw new AasError('INTERNAL', `at most ${MAX_CLAIMS_PER_STATEMENT} claims per statement`);
  }
  const eligibleAt = inputs.reduce(
    (min, input) => (input.nowIso < min ? input.nowIso : min),
    first.nowIso,
  );
  return {
    owners: inputs.map((input) => input.owner),
    leases: inputs.map((input) => input.leaseExpiresAt),
    nows: inputs.map((input) => input.nowIso),
    ownerJsons: inputs.map((input) => JSON.stringify(input.owner)),
    leaseJsons: inputs.map((input) => JSON.stringify(input.leaseExpiresAt)),
    nowJsons: inputs.map((input) => JSON.stringify(input.nowIso)),
    pins: inputs.map(claimerPin),
    eligibleAt,
    ...(first.match === undefined ? {} : { offers: sharedOffersAndPins(first.match, inputs) }),
  };
}

/** The offers `first` shares with every claimer of `inputs`, and every claimer's pin. */
function sharedOffersAndPins(first: WorkerMatch, inputs: readonly ClaimRunInput[]): string[] {
  const pins = new Set(pinsOf(first));
  const offers = new Set(first.offers.filter((offer) => !pins.has(offer)));
  for (const input of inputs) {
    const pin = claimerPin(input);
    if (pin !== null) offers.add(pin);
  }
  return [...offers];
}

/**
 * Each claimer's answer from the rows of claimBatchWrite. A claimer that got nothing is answered
 * `again` when its statement left a run unclaimed that it could have had (two of one session were
 * picked, only one can be chained per statement; two pinned to its worker, or reserved for its
 * owner, were picked); otherwise as `nothingLeft` says, given the claimer and how many runs the
 * statement picked and claimed. A run left for a claimer is there because another run of its
 * session, or of its group (owner, pin or neither), was handed out before it, so an `again` follows
 * a claim of the statement; one exception: claimers of one owner with different pins (no worker is
 * such: a worker's owner and pin are both its own name) may miss the runs reserved for that owner
 * by rank, claiming nothing. The store bounds how often one claim is asked again
 * (postgres-batches.ts).
 */
export function batchAnswers(
  inputs: readonly ClaimRunInput[],
  rows: readonly ClaimedBatchRow[],
  nothingLeft: (input: ClaimRunInput, picked: number, served: number) => 'none' | 'again' | 'alone',
): BatchClaim[] {
  const answers: BatchClaim[] = inputs.map(() => ({ outcome: 'none' }));
  let served = 0;
  let leftOver: readonly LeftOver[] = [];
  for (const row of rows) {
    if (row.left_over !== null) leftOver = JSON.parse(row.left_over) as LeftOver[];
    if (row.claimer === null) continue;
    answers[Number(row.claimer) - 1] = { outcome: 'claimed', claimed: claimedOf(row) };
    served += 1;
  }
  const picked = served + leftOver.length;
  return answers.map((answer, i) => {
    const input = inputs[i];
    if (answer.outcome !== 'none' || input === undefined) return answer;
    const couldHave = leftOver.some(([owner, pin]) => mayTake(input, owner, pin));
    return { outcome: couldHave ? 'again' : nothingLeft(input, picked, served) };
  });
}

/** Whether `input` may take a claimable run reserved for `owner` (or no one), pinned to `pin`. */
export function mayTake(input: ClaimRunInput, owner: string | null, pin: string | null): boolean {
  return (owner === null || owner === input.owner) && (pin === null || pin === claimerPin(input));
}

/** A picked run no claimer got: its reservation's owner and its pin (candidatePin). */
type LeftOver = readonly [owner: string | null, pin: string | null];

/**
 * The run as claimed and its `run.started` as committed. Nothing here may throw: the claims are
 * committed, and a claimer that never receives its claim leaves its run to the lease sweep.
 */
function claimedOf(row: ClaimedBatchRow): ClaimedRun {
  const {
    left_over: _leftOver,
    claimer: _claimer,
    owner_json: _ownerJson,
    lease_json: _leaseJson,
    now_json: _nowJson,
    announced: _announced,
    head_seq: headSeq,
    head_hash: headHash,
    data,
    hash,
    ...runRow
  } = row;
  const run = runFromRow(runRow as RunRow);
  const fields = {
    sessionId: run.sessionId,
    seq: headSeq + 1,
    type: 'run.started',
    at: run.startedAt ?? '',
    actor: run.leaseOwner ?? '',
    data: JSON.parse(data) as unknown,
    prevHash: headHash,
  };
  const event: StoredEvent = { ...fields, hash };
  return { run, events: [event] };
}

/**
 * The write of a claim statement: hands the runs `pick` returns (locked, with their sessions'
 * heads and their pins) out to the claimers bound in `p` (claimerValues), claims them, chains
 * each `run.started` and records the sessions' new heads.
 *
 * Handing out, best run first within each group: a run reserved for an owner goes to a claimer
 * of that owner (and of its pin, if it has one); then a run pinned to a worker goes to a claimer
 * of that pin that got none; then the other runs go to the claimers left, in order. A worker thus
 * gets a run pinned to it before a better unpinned run, which any claimer may take.
 */
export function claimBatchWrite(
  p: Readonly<Record<string, unknown>>,
  pick: { compile(): CompiledQuery } | RawBuilder<unknown>,
) {
  const running = sql.lit(RunStatus.running);
  return sql<ClaimedBatchRow>`with claimers as (
      select * from unnest(
        cast(${p.owners} as text[]), cast(${p.leases} as text[]), cast(${p.nows} as text[]),
        cast(${p.ownerJsons} as text[]), cast(${p.leaseJsons} as text[]),
        cast(${p.nowJsons} as text[]), cast(${p.pins} as text[])
      ) with ordinality
        as c(owner, lease_expires_at, now_iso, owner_json, lease_json, now_json, pin, n)
    ), picked as materialized (
      ${pick}
    ), firsts as (
      select ranked.*, row_number() over (
          partition by case when ranked.lease_owner is not null then 'o:' || ranked.lease_owner
            when ranked.pin is not null then 'p:' || ranked.pin end
          order by ranked.priority desc, ranked.created_at, ranked.id
        ) as owner_rank
      from (
        select picked.*, row_number() over (
          partition by picked.session_id
          order by picked.priority desc, picked.created_at, picked.id
        ) as nth
        from picked
        -- Only runs some claimer may take: one no claimer may take must not hide the next run
        -- of its session, nor take a rank that a run a claimer may take would then lack.
        where exists (
          select from claimers
          where (picked.lease_owner is null or claimers.owner = picked.lease_owner)
            and (picked.pin is null or claimers.pin = picked.pin)
        )
      ) as ranked
      where ranked.nth = 1
    ), reserved as (
      select firsts.id, owned.n
      from firsts
      join (
        select claimers.owner, claimers.pin, claimers.n,
          row_number() over (partition by claimers.owner order by claimers.n) as owner_rank
        from claimers
      ) as owned on owned.owner = firsts.lease_owner and owned.owner_rank = firsts.owner_rank
      where firsts.pin is null or firsts.pin = owned.pin
    ), pinned as (
      select firsts.id, mine.n
      from firsts
      join (
        select claimers.pin, claimers.n,
          row_number() over (partition by claimers.pin order by claimers.n) as pin_rank
        from claimers
        where claimers.n not in (select reserved.n from reserved)
      ) as mine on mine.pin = firsts.pin and mine.pin_rank = firsts.owner_rank
      where firsts.lease_owner is null
    ), unreserved as (
      select firsts.id, free.n
      from firsts
      join (
        select claimers.n, row_number() over (order by claimers.n) as free_rank
        from claimers
        where claimers.n not in (select reserved.n from reserved)
          and claimers.n not in (select pinned.n from pinned)
      ) as free on free.free_rank = firsts.owner_rank
      where firsts.lease_owner is null and firsts.pin is null
    ), assigned as (
      select * from reserved union all select * from pinned union all select * from unreserved
    ), claimed as (
      update runs set
        status = ${running}, lease_owner = c.owner, lease_expires_at = c.lease_expires_at,
        started_at = c.now_iso, updated_at = c.now_iso, not_before = null,
        fencing_token = runs.fencing_token + 1, claim_count = runs.claim_count + 1,
        version = runs.version + 1
      from assigned
      join firsts on firsts.id = assigned.id
      join claimers as c on c.n = assigned.n
      where runs.id = assigned.id
      returning runs.*, firsts.head_seq, firsts.head_hash, c.n as claimer, c.owner_json,
        c.lease_json, c.now_json
    ), started as (
      select claimed.*,
        '{"claim":' || claimed.claim_count || ',"fencingToken":' || claimed.fencing_token
        || ',"leaseExpiresAt":' || claimed.lease_json || ',"maxClaims":' || claimed.max_claims
        || ',"owner":' || claimed.owner_json || ',"runId":' || to_json(claimed.id)::text
        || '}' as data
      from claimed
    ), chained as (
      select started.*, encode(sha256(convert_to(
        '{"actor":' || started.owner_json || ',"at":' || started.now_json
        || ',"data":' || started.data || ',"prevHash":' || to_json(started.head_hash)::text
        || ',"seq":' || (started.head_seq + 1) || ',"sessionId":'
        || to_json(started.session_id)::text || ',"type":"run.started"}',
        'UTF8')), 'hex') as hash
      from started
    ), appended as (
      insert into events (session_id, seq, type, at, actor, data, prev_hash, hash)
      select session_id, head_seq + 1, 'run.started', started_at, lease_owner, data, head_hash, hash
      from chained
    ), head as (
      update sessions set
        last_seq = chained.head_seq + 1, last_hash = chained.hash,
        updated_at = chained.started_at, status = chained.status,
        reason_code = chained.reason_code
      from chained where sessions.id = chained.session_id
    )
    select (
        select cast(json_agg(json_build_array(picked.lease_owner, picked.pin)) as text)
        from picked where picked.id not in (select assigned.id from assigned)
      ) as left_over, chained.*,
      ${statementAnnouncementSql(
        p.origin,
        sql`select chained.session_id, chained.head_seq + 1, chained.head_seq + 1 from chained`,
      )} as announced
    from (select) as one left join chained on true`;
}
