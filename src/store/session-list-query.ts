import { type CompiledQuery, type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
import type { DatabaseSchema, SessionRow } from './database-schema.js';
import type { SessionFilter } from './records.js';
import type { Dialect } from './store.js';

/** A sessions row with its latest run's id, as `listSessions` reads it. */
export type SessionListRow = SessionRow & { run_id: string | null };

/** The columns `q` searches. */
const SEARCHED = ['task', 'repo', 'agent', 'requested_by'] as const;

/**
 * The escape character of the LIKE patterns below: not a backslash, whose meaning in a
 * PostgreSQL string literal depends on `standard_conforming_strings`.
 */
const LIKE_ESCAPE = '!';

/**
 * `q` as a LIKE pattern matching it anywhere: ASCII letters folded to lower case (as the
 * column is, below), and `%`, `_` and the escape character escaped so they match themselves.
 */
export function searchPattern(q: string): string {
  const folded = q.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
  return `%${folded.replace(/[!%_]/g, (special) => `${LIKE_ESCAPE}${special}`)}%`;
}

/**
 * A column folded exactly as `searchPattern` folds the needle: ASCII letters only. SQLite's
 * lower() folds only those; PostgreSQL's lower() follows the database's locale (it folds `Ü`
 * under C.UTF-8), so translate() spells the same 26 letters out there.
 */
function foldedColumn(dialect: Dialect, column: (typeof SEARCHED)[number]) {
  const ref = sql.ref(`sessions.${column}`);
  return dialect === 'sqlite'
    ? sql<string>`lower(${ref})`
    : sql<string>`translate(${ref}, ${sql.lit('ABCDEFGHIJKLMNOPQRSTUVWXYZ')}, ${sql.lit('abcdefghijklmnopqrstuvwxyz')})`;
}

/** The filters other than the label, on the sessions table. */
function matches(dialect: Dialect, filter: SessionFilter) {
  const pattern = filter.q === undefined ? undefined : searchPattern(filter.q);
  return (eb: ExpressionBuilder<DatabaseSchema, 'sessions'>) => {
    const search =
      pattern === undefined
        ? []
        : [
            eb.or(
              SEARCHED.map(
                (column) =>
                  sql<SqlBool>`${foldedColumn(dialect, column)} like ${pattern} escape ${sql.lit(LIKE_ESCAPE)}`,
              ),
            ),
          ];
    return eb.and([
      ...(filter.status === undefined ? [] : [eb('sessions.status', '=', filter.status)]),
      ...(filter.repo === undefined ? [] : [eb('sessions.repo', '=', filter.repo)]),
      ...(filter.agent === undefined ? [] : [eb('sessions.agent', '=', filter.agent)]),
      ...(filter.requestedBy === undefined
        ? []
        : [eb('sessions.requested_by', '=', filter.requestedBy)]),
      ...search,
    ]);
  };
}

/** The session's latest run, read per listed row through runs(session_id, created_at). */
function latestRunId(eb: ExpressionBuilder<DatabaseSchema, 'sessions'>) {
  return eb
    .selectFrom('runs')
    .select('runs.id')
    .whereRef('runs.session_id', '=', 'sessions.id')
    .orderBy('runs.created_at', 'desc')
    .orderBy('runs.id', 'desc')
    .limit(1)
    .as('run_id');
}

/**
 * Newest first (ids sort by creation time), every filter combined with AND and with the
 * `beforeId` cursor. Each single exact-match filter has an index that yields its sessions
 * already in id order (sessions(status|repo|agent|requested_by, id), session_labels(label,
 * session_id)), so a page costs its own size. With a label, the scan runs over that index and
 * joins the sessions. `q` has no index: it filters the rows those scans (or the primary key,
 * newest first) yield until the page is full.
 */
export function sessionListQuery(
  db: Kysely<DatabaseSchema>,
  dialect: Dialect,
  filter: SessionFilter,
): CompiledQuery<SessionListRow> {
  if (filter.label === undefined) {
    return db
      .selectFrom('sessions')
      .selectAll()
      .select(latestRunId)
      .where(matches(dialect, filter))
      .$if(filter.beforeId !== undefined, (qb) => qb.where('id', '<', filter.beforeId ?? ''))
      .orderBy('id', 'desc')
      .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit ?? 0))
      .compile();
  }
  return db
    .selectFrom('session_labels')
    .innerJoin('sessions', 'sessions.id', 'session_labels.session_id')
    .selectAll('sessions')
    .select(latestRunId)
    .where('session_labels.label', '=', filter.label)
    .where(matches(dialect, filter))
    .$if(filter.beforeId !== undefined, (qb) =>
      qb.where('session_labels.session_id', '<', filter.beforeId ?? ''),
    )
    .orderBy('session_labels.session_id', 'desc')
    .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit ?? 0))
    .compile();
}
