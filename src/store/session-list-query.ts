import type { CompiledQuery, ExpressionBuilder, Kysely } from 'kysely';
import type { DatabaseSchema, SessionRow } from './database-schema.js';
import type { SessionFilter } from './records.js';

/** The exact-match filters other than the label, on the sessions table. */
function matches(filter: SessionFilter) {
  return (eb: ExpressionBuilder<DatabaseSchema, 'sessions'>) =>
    eb.and([
      ...(filter.status === undefined ? [] : [eb('sessions.status', '=', filter.status)]),
      ...(filter.repo === undefined ? [] : [eb('sessions.repo', '=', filter.repo)]),
      ...(filter.agent === undefined ? [] : [eb('sessions.agent', '=', filter.agent)]),
      ...(filter.requestedBy === undefined
        ? []
        : [eb('sessions.requested_by', '=', filter.requestedBy)]),
    ]);
}

/**
 * Newest first (ids sort by creation time), every filter combined with AND and with the
 * `beforeId` cursor. Each single filter has an index that yields its sessions already in id
 * order (sessions(status|repo|agent|requested_by, id), session_labels(label, session_id)), so a
 * page costs its own size. With a label, the scan runs over that index and joins the sessions.
 */
export function sessionListQuery(
  db: Kysely<DatabaseSchema>,
  filter: SessionFilter,
): CompiledQuery<SessionRow> {
  if (filter.label === undefined) {
    return db
      .selectFrom('sessions')
      .selectAll()
      .where(matches(filter))
      .$if(filter.beforeId !== undefined, (qb) => qb.where('id', '<', filter.beforeId ?? ''))
      .orderBy('id', 'desc')
      .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit ?? 0))
      .compile();
  }
  return db
    .selectFrom('session_labels')
    .innerJoin('sessions', 'sessions.id', 'session_labels.session_id')
    .selectAll('sessions')
    .where('session_labels.label', '=', filter.label)
    .where(matches(filter))
    .$if(filter.beforeId !== undefined, (qb) =>
      qb.where('session_labels.session_id', '<', filter.beforeId ?? ''),
    )
    .orderBy('session_labels.session_id', 'desc')
    .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit ?? 0))
    .compile();
}
