import { type RawBuilder, sql } from 'kysely';

/**
 * PostgreSQL channel on which every committed append is announced: which session, which seqs,
 * written by which store. Never the events themselves (NOTIFY payloads stop at 8,000 bytes,
 * and a listener must read what was committed anyway, not what a writer meant to commit).
 */
export const COMMITTED_EVENTS_CHANNEL = 'aas_events';

/** One committed append: seqs `firstSeq`…`lastSeq` of `sessionId`, written by `origin`. */
export interface CommitAnnouncement {
  readonly origin: string;
  readonly sessionId: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** NOTIFY refuses payloads from 8,000 bytes; ids are far shorter, this only keeps it so. */
const MAX_PAYLOAD_BYTES = 7_999;

/** Kysely instance of a PostgreSQL store → that store's origin id. SQLite stores are absent. */
const origins = new WeakMap<object, string>();

/**
 * Makes every event insert through `db` announce itself (see insertEventRows) as written by
 * `origin`. Only PostgreSQL stores register: SQLite has no NOTIFY.
 */
export function announceCommitsOf(db: object, origin: string): void {
  origins.set(db, origin);
}

/** The origin `db`'s appends are announced under; undefined when it does not announce. */
export function announcementOrigin(db: object): string | undefined {
  return origins.get(db);
}

/**
 * The NOTIFY payload for an append of `firstSeq`…`lastSeq` through `db`; undefined when `db`
 * does not announce (SQLite) or the payload would not fit (listeners then learn of the append
 * from their polls only).
 */
export function announcementPayload(
  db: object,
  sessionId: string,
  firstSeq: number,
  lastSeq: number,
): string | undefined {
  const origin = origins.get(db);
  if (origin === undefined) return undefined;
  const payload = JSON.stringify({ o: origin, s: sessionId, f: firstSeq, l: lastSeq });
  return Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES ? undefined : payload;
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/** Null for anything that is not an announcement of this format (another version, noise). */
export function parseAnnouncement(payload: string): CommitAnnouncement | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { o, s, f, l } = parsed as Record<string, unknown>;
  if (typeof o !== 'string' || typeof s !== 'string' || !isSeq(f) || !isSeq(l) || f > l) {
    return null;
  }
  return { origin: o, sessionId: s, firstSeq: f, lastSeq: l };
}

/**
 * The SQL that announces an append: `pg_notify` with `payload` (announcementPayload's, bound as
 * a parameter). Every PostgreSQL statement that inserts events must evaluate it exactly once,
 * and only when the events are inserted (e.g. in the final SELECT of a statement whose
 * data-modifying WITH inserts them); then the announcement is delivered if, and when, its
 * transaction commits. A null payload is delivered empty and ignored by listeners.
 */
export function announcementSql(payload: unknown): RawBuilder<unknown> {
  return sql`pg_notify(${COMMITTED_EVENTS_CHANNEL}, cast(${payload} as text))`;
}
