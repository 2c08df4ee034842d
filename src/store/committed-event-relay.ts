import { type AasError, normaliseError } from '../kernel/index.js';
import { parseAnnouncements } from './commit-announcements.js';
import type { EventRange, StoredEvent } from './records.js';

/** What a follower of committed events is told. */
export interface CommittedEventsHandler {
  /** Events another store committed, in seq order within a session, each once. */
  onEvents(events: readonly StoredEvent[]): void;
  /**
   * Something kept events from arriving: the connection was lost (retried in `retryInMs`) or a
   * read failed. Whatever was committed meanwhile arrives only through the store's own reads.
   */
  onTrouble?(error: AasError, retryInMs?: number): void;
  /**
   * Following (again): `reconnected` after a loss or after failed first tries, when events
   * committed meanwhile went unannounced here.
   */
  onConnected?(reconnected: boolean): void;
}

/** The store read the relay uses: readEvents. */
export type ReadEvents = (sessionId: string, range: EventRange) => Promise<StoredEvent[]>;

interface SeqRange {
  firstSeq: number;
  lastSeq: number;
}

/** Events read per query: a huge append is read in several. */
const READ_BATCH = 1_000;

/**
 * Turns announcements into events: skips its own store's, reads the announced seqs from the
 * store (an announcement arrives after its commit, so they are there) and hands them on. One
 * read at a time, so a session's events are handed on in seq order; announcements that arrive
 * meanwhile for one session are merged when their seqs join, so a busy session costs a read
 * per round rather than one per append. Ranges that do not join stay apart: the seqs between
 * them were this store's own and its caller has them already.
 */
export class CommittedEventRelay {
  readonly #origin: string;
  readonly #read: ReadEvents;
  readonly #handler: CommittedEventsHandler;
  /** Sessions with announced seqs not read yet, in the order they were first announced. */
  readonly #pending = new Map<string, SeqRange[]>();
  #pumping: Promise<void> | null = null;
  #closed = false;

  constructor(origin: string, read: ReadEvents, handler: CommittedEventsHandler) {
    this.#origin = origin;
    this.#read = read;
    this.#handler = handler;
  }

  announce(payload: string): void {
    if (this.#closed) return;
    const announcements = parseAnnouncements(payload);
    // Every append of one payload was made by one store: its origin decides for all of them.
    if (announcements[0] === undefined || announcements[0].origin === this.#origin) return;
    for (const { sessionId, firstSeq, lastSeq } of announcements) {
      const ranges = this.#pending.get(sessionId);
      const previous = ranges?.at(-1);
      if (previous !== undefined && previous.lastSeq + 1 === firstSeq) {
        previous.lastSeq = lastSeq;
      } else if (ranges !== undefined) {
        ranges.push({ firstSeq, lastSeq });
      } else {
        this.#pending.set(sessionId, [{ firstSeq, lastSeq }]);
      }
    }
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = null;
    });
  }

  /** Stops handing on and waits for a read in flight, so the store can be closed after this. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#pending.clear();
    await this.#pumping;
  }

  async #pump(): Promise<void> {
    for (;;) {
      const next = this.#pending.entries().next();
      if (next.done === true || this.#closed) return;
      const [sessionId, ranges] = next.value;
      this.#pending.delete(sessionId);
      for (const range of ranges) {
        try {
          await this.#relay(sessionId, range);
        } catch (thrown) {
          // The events stay in the store; the store's readers find them by polling.
          this.#report(normaliseError(thrown, 'STORE_UNAVAILABLE'));
        }
      }
    }
  }

  async #relay(sessionId: string, range: SeqRange): Promise<void> {
    let afterSeq = range.firstSeq - 1;
    while (afterSeq < range.lastSeq && !this.#closed) {
      const events = await this.#read(sessionId, {
        afterSeq,
        limit: Math.min(READ_BATCH, range.lastSeq - afterSeq),
      });
      const last = events.at(-1);
      // Announced seqs are committed; finding none would mean the session was deleted.
      if (last === undefined) return;
      if (this.#closed) return;
      try {
        this.#handler.onEvents(events);
      } catch {
        // A handler's failure is its own; the relay goes on with the next announcement.
      }
      afterSeq = last.seq;
    }
  }

  #report(error: AasError): void {
    try {
      this.#handler.onTrouble?.(error);
    } catch {
      // See #relay.
    }
  }
}
