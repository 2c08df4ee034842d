import { type Expression, type RawBuilder, type SqlBool, sql } from 'kysely';
import { announcementSql } from './commit-announcements.js';
import type { EventRow } from './database-schema.js';

/**
 * Chained event rows of one session as one array per column. Bound as seven array parameters,
 * an append of any length has the same statement text, so a single cached statement (and one
 * server-side plan) serves every append, where row-per-placeholder INSERTs need one per size.
 */
export interface EventColumns {
  readonly seqs: number[];
  readonly types: string[];
  readonly ats: string[];
  readonly actors: string[];
  readonly datas: string[];
  readonly prevHashes: string[];
  readonly hashes: string[];
}

export function eventColumns(rows: readonly EventRow[]): EventColumns {
  return {
    seqs: rows.map((row) => row.seq),
    types: rows.map((row) => row.type),
    ats: rows.map((row) => row.at),
    actors: rows.map((row) => row.actor),
    datas: rows.map((row) => row.data),
    prevHashes: rows.map((row) => row.prev_hash),
    hashes: rows.map((row) => row.hash),
  };
}

/**
 * PostgreSQL: `INSERT INTO events … SELECT … FROM unnest(<columns>) WHERE <guard>`, for use as
 * a data-modifying WITH query: `guard` ties the insert to the statement's other changes (the
 * events are written only if the run change they record was).
 */
export function insertEventColumns(
  sessionId: unknown,
  columns: { readonly [K in keyof EventColumns]: unknown },
  guard: Expression<SqlBool>,
): RawBuilder<unknown> {
  return sql`insert into events (session_id, seq, type, at, actor, data, prev_hash, hash)
    select cast(${sessionId} as text), e.seq, e.type, e.at, e.actor, e.data, e.prev_hash, e.hash
    from unnest(
      cast(${columns.seqs} as integer[]), cast(${columns.types} as text[]),
      cast(${columns.ats} as text[]), cast(${columns.actors} as text[]),
      cast(${columns.datas} as text[]), cast(${columns.prevHashes} as text[]),
      cast(${columns.hashes} as text[])
    ) as e(seq, type, at, actor, data, prev_hash, hash)
    where ${guard}`;
}

/**
 * The `announced` column of a statement that inserts events: announcementSql once per row of
 * its final SELECT, only for a row whose events were inserted (`inserted`, when the SELECT also
 * returns a row for a write that did not happen) and only with a payload (none for an append of
 * no events, or from a store that does not announce).
 */
export function announced(
  payload: unknown,
  inserted: Expression<SqlBool> = sql<SqlBool>`true`,
): RawBuilder<unknown> {
  return sql`case when ${inserted} and cast(${payload} as text) is not null
    then ${announcementSql(payload)} end as announced`;
}
