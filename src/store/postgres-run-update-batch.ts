import { type CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import { chainEvents } from './chain-events.js';
import { announcementOrigin, statementAnnouncementSql } from './commit-announcements.js';
import type { DatabaseSchema, EventRow, RunRow } from './database-schema.js';
import { eventColumns } from './event-columns.js';
import { statementCapacity } from './power-of-two-chunks.js';
import type { NewEvent, RunChanges, StoredEvent } from './records.js';
import { runChangesToRow, runUpdatedAt } from './run-changes.js';
import type { RunExpectation } from './run-update-statement.js';
import type { KnownHead } from './session-head-cache.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';

/** What a batched update did: applied, or nothing written (head moved, or `expect` failed). */
export type GuessedUpdate =
  | { readonly applied: true; readonly row: RunRow; readonly events: StoredEvent[] }
  | { readonly applied: false; readonly headMoved: boolean };

/** One updateRun at a head its store knows: the head its own last write of the session left. */
export interface KnownHeadUpdate {
  readonly head: KnownHead;
  readonly runId: string;
  readonly expect: RunExpectation;
  readonly changes: RunChanges;
  readonly events: readonly NewEvent[];
}

/** The integer columns a RunChanges sets; every other one is text. */
const INTEGER_COLUMNS: ReadonlySet<string> = new Set(['claim_count', 'unacknowledged_claims']);

/**
 * What decides the statement text of an update: updates with the same shape can share one
 * statement (updateRunsAtKnownHeads).
 */
export function knownHeadShape(update: KnownHeadUpdate): string {
  const { expect, changes, events } = update;
  return [
    Object.keys(runChangesToRow(changes)).sort().join(','),
    runUpdatedAt(changes, events) !== undefined,
    expect.status === undefined ? '-' : expect.status.join('|'),
    expect.version !== undefined,
    expect.leaseOwner !== undefined,
    expect.fencingToken !== undefined,
    changes.status !== undefined || changes.reasonCode !== undefined,
  ].join(':');
}

type BatchRow = Partial<RunRow> & {
  readonly item: string | number;
  readonly head_held: boolean;
  readonly head_known: boolean;
  readonly changed_item: unknown;
  readonly announced: unknown;
};

/**
 * PostgreSQL: updateRun for callers that know their sessions' heads, several in ONE statement,
 * for updates of the same shape
 * (knownHeadShape) to runs of distinct sessions. Each update gets exactly what it would get
 * alone: its session row is locked only while its head is still the one known, its run is
 * updated only under its own expectations and that lock, and its events and new head are
 * written only if its run was. Sessions are locked without waiting (`SKIP LOCKED`, as the claim
 * and renewal batches lock): an update whose session another writer holds is answered "not
 * applied, head not moved", and the caller takes the locking path, which waits for that session
 * alone. Otherwise one transaction hanging while it holds a session (a replica frozen mid-write)
 * would stall every report this process makes.
 *
 * One round trip and one commit for the batch: a control plane finishing many workers' runs
 * at once pays for it once instead of once per run.
 */
export function* updateRunsAtKnownHeads(
  db: Kysely<DatabaseSchema>,
  updates: readonly KnownHeadUpdate[],
): SqlOperation<GuessedUpdate[]> {
  const first = updates[0];
  if (first === undefined) return [];
  // The lane that made the batch keys it by shape (postgres-batches.ts); sessions it checks here.
  const shape = knownHeadShape(first);
  const sessions = new Set(updates.map((update) => update.head.sessionId));
  if (sessions.size !== updates.length) {
    throw new AasError('INTERNAL', 'a batch of updates needs distinct sessions');
  }
  const names = Object.keys(runChangesToRow(first.changes)).sort();
  const chained = updates.map((update) =>
    chainEvents(
      update.head.sessionId,
      update.head.lastSeq + 1,
      update.head.lastHash,
      update.events,
    ),
  );
  const eventRows: { rank: number; row: EventRow }[] = chained.flatMap((chain, index) =>
    chain.rows.map((row) => ({ rank: index + 1, row })),
  );
  const rows = updates.map((update) => runChangesToRow(update.changes) as Record<string, unknown>);
  const lasts = chained.map((chain) => chain.stored.at(-1));
  const { expect } = first;
  const values: Record<string, unknown> = {
    runIds: updates.map((update) => update.runId),
    sessionIds: updates.map((update) => update.head.sessionId),
    headSeqs: updates.map((update) => update.head.lastSeq),
    headHashes: updates.map((update) => update.head.lastHash),
    ...Object.fromEntries(
      names.map((name) => [`set_${name}`, rows.map((row) => row[name] ?? null)]),
    ),
    ...(runUpdatedAt(first.changes, first.events) === undefined
      ? {}
      : { updatedAts: updates.map((update) => runUpdatedAt(update.changes, update.events)) }),
    ...(expect.status === undefined ? {} : { statuses: [...expect.status] }),
    ...(expect.version === undefined
      ? {}
      : { versions: updates.map((update) => update.expect.version) }),
    ...(expect.leaseOwner === undefined
      ? {}
      : { leaseOwners: updates.map((update) => update.expect.leaseOwner) }),
    ...(expect.fencingToken === undefined
      ? {}
      : { fencingTokens: updates.map((update) => update.expect.fencingToken) }),
    lastSeqs: updates.map((update, index) => lasts[index]?.seq ?? update.head.lastSeq),
    lastHashes: updates.map((update, index) => lasts[index]?.hash ?? update.head.lastHash),
    lastAts: lasts.map((last) => last?.at ?? null),
    origin: announcementOrigin(db) ?? null,
    ranks: eventRows.map((entry) => entry.rank),
    ...eventColumns(eventRows.map((entry) => entry.row)),
  };
  const mirror = first.changes.status !== undefined || first.changes.reasonCode !== undefined;
  // The statement states how many items it carries at most, as a power of two (a handful of
  // texts serve every batch size). A prepared statement's generic plan cannot see how long the
  // arrays are and assumes 10 items; for fewer, PostgreSQL judged it dearer than a plan made
  // for the values and planned every statement again: measured on PostgreSQL 15, 0.6–0.7 ms of
  // planning per finish against 0.25 ms of executing it, and a lone claimer's loop of claim,
  // heartbeat and finish ran 35–40% faster with the limit (queue-fast-paths.test.ts counts the
  // plans).
  const capacity = statementCapacity(updates.length);
  const statement = cachedStatement(
    db,
    `updateRunsAtKnownHeads:${capacity}:${shape}`,
    values,
    (p) => {
      const write = batchUpdate(p, names, mirror, capacity);
      return { compile: () => write.compile(db) };
    },
  ) as CompiledQuery<BatchRow>;
  const results = yield* rowsOf(statement);
  const outcomes: GuessedUpdate[] = updates.map(() => ({ applied: false, headMoved: true }));
  for (const result of results) {
    const index = Number(result.item) - 1;
    const chain = chained[index];
    if (chain === undefined) throw new AasError('INTERNAL', `update batch returned item ${index}`);
    if (result.id === undefined || result.id === null) {
      // Not held, yet the known head as this statement's snapshot saw it: another writer holds
      // the session (or moved it since that snapshot, which the next write finds). The locking
      // path waits for it; the head stays remembered.
      outcomes[index] = {
        applied: false,
        headMoved: result.head_held !== true && result.head_known !== true,
      };
      continue;
    }
    const {
      item: _,
      head_held: __,
      head_known: ___,
      changed_item: ____,
      announced: _____,
      ...row
    } = result;
    outcomes[index] = { applied: true, row: row as RunRow, events: chain.stored as StoredEvent[] };
  }
  return outcomes;
}

function batchUpdate(
  p: Record<string, unknown>,
  names: readonly string[],
  mirror: boolean,
  capacity: number,
) {
  const itemColumns: RawBuilder<unknown>[] = [
    sql`cast(${p.runIds} as text[])`,
    sql`cast(${p.sessionIds} as text[])`,
    sql`cast(${p.headSeqs} as integer[])`,
    sql`cast(${p.headHashes} as text[])`,
  ];
  const itemNames = ['run_id', 'session_id', 'head_seq', 'head_hash'];
  const set: RawBuilder<unknown>[] = [];
  for (const name of names) {
    const type = INTEGER_COLUMNS.has(name) ? sql`integer[]` : sql`text[]`;
    itemColumns.push(sql`cast(${p[`set_${name}`]} as ${type})`);
    itemNames.push(`set_${name}`);
    set.push(sql`${sql.ref(name)} = items.${sql.ref(`set_${name}`)}`);
  }
  const optional: [string, string, RawBuilder<unknown>][] = [
    ['updatedAts', 'updated_at', sql`text[]`],
    ['versions', 'version', sql`integer[]`],
    ['leaseOwners', 'lease_owner', sql`text[]`],
    ['fencingTokens', 'fencing_token', sql`integer[]`],
  ];
  for (const [key, column, type] of optional) {
    if (p[key] === undefined) continue;
    itemColumns.push(sql`cast(${p[key]} as ${type})`);
    itemNames.push(`expect_${column}`);
  }
  if (p.updatedAts !== undefined) set.push(sql`updated_at = items.expect_updated_at`);
  set.push(sql`version = runs.version + 1`);
  itemColumns.push(
    sql`cast(${p.lastSeqs} as integer[])`,
    sql`cast(${p.lastHashes} as text[])`,
    sql`cast(${p.lastAts} as text[])`,
  );
  itemNames.push('last_seq', 'last_hash', 'last_at');
  const expected: RawBuilder<unknown>[] = [
    sql`runs.id = items.run_id`,
    sql`runs.session_id = items.session_id`,
  ];
  if (p.statuses !== undefined) {
    expected.push(sql`runs.status = any(cast(${p.statuses} as text[]))`);
  }
  if (p.versions !== undefined) expected.push(sql`runs.version = items.expect_version`);
  if (p.leaseOwners !== undefined) expected.push(sql`runs.lease_owner = items.expect_lease_owner`);
  if (p.fencingTokens !== undefined) {
    expected.push(sql`runs.fencing_token = items.expect_fencing_token`);
  }
  return sql<BatchRow>`with items as (
      select * from unnest(${sql.join(itemColumns)})
        with ordinality as i(${sql.join(itemNames.map((name) => sql.ref(name)))}, n)
      limit ${sql.lit(capacity)}
    ), head as (
      select items.n from sessions
      join items on sessions.id = items.session_id and sessions.last_seq = items.head_seq
        and sessions.last_hash = items.head_hash
      for no key update of sessions skip locked
    ), changed as (
      update runs set ${sql.join(set)}
      from items join head on head.n = items.n
      where ${sql.join(expected, sql` and `)}
      returning runs.*, items.n as changed_item
    ), appended as (
      insert into events (session_id, seq, type, at, actor, data, prev_hash, hash)
      select changed.session_id, e.seq, e.type, e.at, e.actor, e.data, e.prev_hash, e.hash
      from unnest(
        cast(${p.ranks} as bigint[]), cast(${p.seqs} as integer[]), cast(${p.types} as text[]),
        cast(${p.ats} as text[]), cast(${p.actors} as text[]), cast(${p.datas} as text[]),
        cast(${p.prevHashes} as text[]), cast(${p.hashes} as text[])
      ) as e(rank, seq, type, at, actor, data, prev_hash, hash)
      join changed on changed.changed_item = e.rank
    ), tail as (
      update sessions set
        last_seq = items.last_seq, last_hash = items.last_hash,
        updated_at = coalesce(items.last_at, sessions.updated_at)
        ${mirror ? sql`, status = changed.status, reason_code = changed.reason_code` : sql``}
      from changed join items on items.n = changed.changed_item
      where sessions.id = changed.session_id
    )
    select items.n as item, head.n is not null as head_held,
      case when head.n is null then exists (
        select from sessions where sessions.id = items.session_id
          and sessions.last_seq = items.head_seq and sessions.last_hash = items.head_hash
      ) else true end as head_known,
      changed.*,
      ${statementAnnouncementSql(
        p.origin,
        sql`select items.session_id, items.head_seq + 1, items.last_seq
          from changed join items on items.n = changed.changed_item
          where items.last_at is not null`,
      )} as announced
    from items
    left join head on head.n = items.n
    left join changed on changed.changed_item = items.n`;
}
