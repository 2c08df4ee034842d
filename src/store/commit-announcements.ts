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

/**
 * The appends a payload announces: one (`{o, s, f, l}`, an append to one session) or several
 * (`{o, a: [[s, f, l], …]}`, a statement that appended to several sessions). None for anything
 * else (another version, noise); an entry of a list that is not one is left out.
 */
export function parseAnnouncements(payload: string): CommitAnnouncement[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null) return [];
  const { o, s, f, l, a } = parsed as Record<string, unknown>;
  if (typeof o !== 'string') return [];
  const entries: unknown[] = Array.isArray(a) ? a : [[s, f, l]];
  const announcements: CommitAnnouncement[] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry)) continue;
    const [sessionId, firstSeq, lastSeq]: unknown[] = entry;
    if (typeof sessionId !== 'string' || !isSeq(firstSeq) || !isSeq(lastSeq)) continue;
    if (firstSeq > lastSeq) continue;
    announcements.push({ origin: o, sessionId, firstSeq, lastSeq });
  }
  return announcements;
}

/**
 * One announcement for every append a statement made to several sessions, as a scalar
 * subquery: `rows` selects `(session_id, first_seq, last_seq)` of each append (none: nothing is
 * announced). Each notification is an entry of PostgreSQL's notification queue, written while
 * the commit holds the lock every notifying commit of the cluster queues on, and a wake-up and a
 * parse for every listener: a batch announces once, not once per session. `origin` null
 * (a store that does not announce) announces nothing; a payload too long for NOTIFY neither
 * (listeners then learn of those appends from their polls, as announcementPayload's callers do).
 */
export function statementAnnouncementSql(origin: unknown, rows: RawBuilder<unknown>) {
  return sql`(select case when announcement.payload is not null
        and octet_length(announcement.payload) <= ${sql.lit(MAX_PAYLOAD_BYTES)}
      then pg_notify(${sql.lit(COMMITTED_EVENTS_CHANNEL)}, announcement.payload) end
    from (
      select case when count(*) > 0 and cast(${origin} as text) is not null
        then json_build_object('o', cast(${origin} as text), 'a', json_agg(
          json_build_array(appended.session_id, appended.first_seq, appended.last_seq)
          order by appended.session_id))::text end as payload
      from (${rows}) as appended(session_id, first_seq, last_seq)
    ) as announcement)`;
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
