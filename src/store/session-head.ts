import type { Kysely } from 'kysely';
import { chainEvents } from './chain-events.js';
import { announcementPayload, announcementSql } from './commit-announcements.js';
import type { DatabaseSchema, EventRow } from './database-schema.js';
import { recordModelSpend } from './model-spend.js';
import { powerOfTwoChunks } from './power-of-two-chunks.js';
import type { NewEvent, StoredEvent } from './records.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';

/**
 * 256 rows × 8 columns = 2,048 bind parameters per INSERT: far below SQLite's 32,766 and
 * PostgreSQL's 65,535, and large enough that a batch costs a handful of statements.
 */
const MAX_EVENT_ROWS_PER_INSERT = 256;

/** Which row identifies the session whose chain head an operation locks. */
export type HeadTarget = { sessionId: string } | { runId: string } | { attemptId: string };

/** A session's chain head after reserving seqs for the events about to be appended. */
export interface ReservedHead {
  readonly sessionId: string;
  /** The new last seq, counting the reserved events. */
  readonly lastSeq: number;
  /** The hash of the event before the first reserved one. */
  readonly prevHash: string;
}

/** What a run's status change copies onto its session row. */
export interface SessionStatusMirror {
  readonly status: string;
  readonly reason_code: string | null;
}

type TargetKind = 'session' | 'run' | 'attempt';

function targetOf(target: HeadTarget): { kind: TargetKind; id: string } {
  if ('sessionId' in target) return { kind: 'session', id: target.sessionId };
  if ('runId' in target) return { kind: 'run', id: target.runId };
  return { kind: 'attempt', id: target.attemptId };
}

function sessionIdOf(db: Kysely<DatabaseSchema>, kind: TargetKind, id: string) {
  if (kind === 'session') return id;
  if (kind === 'run') {
    return db.selectFrom('runs').select('runs.session_id').where('runs.id', '=', id);
  }
  return db
    .selectFrom('attempts')
    .innerJoin('runs', 'runs.id', 'attempts.run_id')
    .select('runs.session_id')
    .where('attempts.id', '=', id);
}

/** The columns of an events row, in insert order. */
const EVENT_COLUMNS = [
  'session_id',
  'seq',
  'type',
  'at',
  'actor',
  'data',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof EventRow)[];

/**
 * The first statement of every write after session creation: reserves `events.length` seqs on
 * the session row and returns the head to chain from, or null when the target does not exist.
 * Being a write, it takes PostgreSQL's row lock at once; a concurrent writer of the same
 * session blocks here and, once this transaction commits, re-reads the row (READ COMMITTED
 * re-evaluates a blocked UPDATE) and so sees this transaction's `last_seq` and `last_hash`.
 */
export function* lockSessionHead(
  db: Kysely<DatabaseSchema>,
  target: HeadTarget,
  events: readonly NewEvent[],
): SqlOperation<ReservedHead | null> {
  const lastAt = events.at(-1)?.at;
  const { kind, id } = targetOf(target);
  const values = { count: events.length, id, ...(lastAt === undefined ? {} : { at: lastAt }) };
  const [row] = yield* rowsOf(
    cachedStatement(db, `lockSessionHead:${kind}:${lastAt !== undefined}`, values, (p) =>
      db
        .updateTable('sessions')
        .set((eb) => ({
          last_seq: eb('last_seq', '+', p.count),
          ...(p.at === undefined ? {} : { updated_at: p.at }),
        }))
        .where('id', '=', sessionIdOf(db, kind, p.id))
        .returning(['id', 'last_seq', 'last_hash']),
    ),
  );
  if (row === undefined) return null;
  return { sessionId: row.id, lastSeq: row.last_seq, prevHash: row.last_hash };
}

/**
 * Multi-row INSERTs of already chained events (one session's, consecutive seqs). On PostgreSQL
 * the last INSERT also announces the whole append (announcementSql): NOTIFY is delivered only
 * when the transaction commits, so other replicas hear of exactly the appends that were
 * committed, and the announcement costs no statement of its own.
 */
export function* insertEventRows(
  db: Kysely<DatabaseSchema>,
  rows: readonly EventRow[],
): SqlOperation<void> {
  const first = rows[0];
  const last = rows.at(-1);
  const payload =
    first === undefined || last === undefined
      ? undefined
      : announcementPayload(db, first.session_id, first.seq, last.seq);
  const chunks = powerOfTwoChunks(rows, MAX_EVENT_ROWS_PER_INSERT);
  for (const [chunkIndex, chunk] of chunks.entries()) {
    const values: Record<string, unknown> = {};
    chunk.forEach((row, index) => {
      for (const column of EVENT_COLUMNS) values[`${column}${index}`] = row[column];
    });
    const size = chunk.length;
    const insert = (p: Record<string, unknown>) =>
      db.insertInto('events').values(
        Array.from({ length: size }, (_, index) => {
          const row: Record<string, unknown> = {};
          for (const column of EVENT_COLUMNS) row[column] = p[`${column}${index}`];
          return row as unknown as EventRow;
        }),
      );
    if (payload !== undefined && chunkIndex === chunks.length - 1) {
      // A data-modifying WITH runs even though nothing refers to it: one round trip, one NOTIFY.
      yield* rowsOf(
        cachedStatement(db, `insertEvents:${size}:announced`, { ...values, payload }, (p) =>
          db
            .with('inserted', () => insert(p))
            .selectNoFrom(announcementSql(p.payload).as('announced')),
        ),
      );
    } else {
      yield* rowsOf(cachedStatement(db, `insertEvents:${size}`, values, insert));
    }
  }
}

/**
 * Chains `events` after a head reserved by lockSessionHead, inserts them (with the spend of any
 * model call among them), and records the new head hash (and, for a run status change, the
 * mirrored status) on the session row.
 */
export function* appendToLockedHead(
  db: Kysely<DatabaseSchema>,
  head: ReservedHead,
  events: readonly NewEvent[],
  mirror?: SessionStatusMirror,
): SqlOperation<StoredEvent[]> {
  const firstSeq = head.lastSeq - events.length + 1;
  const chained = chainEvents(head.sessionId, firstSeq, head.prevHash, events);
  yield* insertEventRows(db, chained.rows);
  yield* recordModelSpend(db, head.sessionId, chained.stored);
  const lastHash = chained.stored.at(-1)?.hash;
  if (lastHash !== undefined || mirror !== undefined) {
    const values = {
      id: head.sessionId,
      ...(lastHash === undefined ? {} : { hash: lastHash }),
      ...(mirror === undefined ? {} : { status: mirror.status, reason: mirror.reason_code }),
    };
    const shape = `sessionHeadTail:${lastHash !== undefined}:${mirror !== undefined}`;
    yield* rowsOf(
      cachedStatement(db, shape, values, (p) =>
        db
          .updateTable('sessions')
          .set({
            ...(p.hash === undefined ? {} : { last_hash: p.hash }),
            ...(p.status === undefined ? {} : { status: p.status, reason_code: p.reason }),
          })
          .where('id', '=', p.id),
      ),
    );
  }
  return chained.stored;
}
