import type { ServerResponse } from 'node:http';
import type { Logger } from '../kernel/index.js';
import type { EventBus } from '../sessions/index.js';
import type { RunStatus, SessionListItem, Store, StoredEvent } from '../store/index.js';

export interface SessionFeedDeps {
  readonly store: Store;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly keepAliveMs: number;
  /** The first pause before a failed read is tried again (FIRST_RETRY_MS unless set). */
  readonly firstRetryMs?: number;
}

/**
 * Types appended in bulk while an agent works, never in the transaction of a status change:
 * the feed does not read the store for them.
 */
const QUIET_TYPES: ReadonlySet<string> = new Set([
  'agent.event',
  'agent.usage',
  'network.allowed',
  'network.refused',
]);

/**
 * Types recorded together with status changes. For a session whose status the feed does not
 * know yet (it was last written before the first client connected), only these say that the
 * status just changed; any other event merely teaches the feed the current status.
 */
const STATUS_TYPES: ReadonlySet<string> = new Set([
  'session.created',
  'run.queued',
  'run.started',
  'run.requeued',
  'run.interrupted',
  'run.completed',
  'approval.recorded',
  'promotion.requested',
  'promotion.preflight',
  'promotion.completed',
  'promotion.failed',
]);

/** What the feed last read of a session. */
interface KnownStatus {
  readonly status: RunStatus;
  /** The session's last seq in that read: the read reflects every event up to it. */
  readonly seq: number;
  /** Learnt without sending it (the session was new to the feed and nothing announced a change). */
  readonly silent: boolean;
}

/** No status-bearing event among a session's news. */
const NOT_ANNOUNCED = -1;

/** Statuses remembered at most; the oldest is forgotten first (it is then re-learnt). */
const MAX_TRACKED = 10_000;

/** A client this far behind is cut off: it reconnects and reloads its list. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Pause before a failed read is tried again; it doubles while reads keep failing. */
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;
/**
 * Reads of one session's news tried at most (~30 s of failures at the pauses above); then the
 * feed gives up on it and has every client reload its list instead.
 */
const MAX_READ_TRIES = 5;

/** A session whose read failed: what it announced, and how many reads of it failed in a row. */
interface FailedRead {
  readonly announcedSeq: number;
  readonly failures: number;
}

/**
 * Sent when the feed may have missed changes (see EventBus.reportMissed): the client reloads
 * its list. `data` is there because an SSE frame without data is never dispatched.
 */
export const RESYNC_FRAME = 'event: resync\ndata: {}\n\n';

/** One `session` frame: the list item as one line of JSON (JSON.stringify escapes line breaks). */
export function sessionFrame(item: SessionListItem): string {
  return `event: session\ndata: ${JSON.stringify(item)}\n\n`;
}

/**
 * The live feed of session status changes (`GET /stream`) shared by every client of this server.
 *
 * It follows the in-process bus only, so it carries the changes this process commits (its own
 * workers, its own API calls) and, on PostgreSQL, those the other replicas commit (relayed onto
 * the bus); not those of other processes on a SQLite file, nor what the relay missed while
 * reconnecting: when the bus says it may have missed events, every client is sent a `resync`
 * frame. There is no replay either, so a client loads the list first, then applies the feed,
 * and loads again after a reconnect or a `resync`. The bus only says that a session has news: the feed
 * then reads the session from the store (once per session per published batch) and sends it
 * when its status differs from the last one the feed saw, so a burst of changes may arrive as
 * one frame with the latest state. While no client is connected the feed does not listen, and
 * forgets.
 */
export class SessionFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly statuses = new Map<string, KnownStatus>();
  /**
   * Sessions with news not read yet: the highest seq of a status-bearing event among it, or
   * NOT_ANNOUNCED.
   */
  private readonly pending = new Map<string, number>();
  private flushing: Promise<void> | null = null;
  /** Sessions whose read failed, to be read again when `retryTimer` fires. */
  private readonly retrying = new Map<string, FailedRead>();
  /**
   * Bumped whenever what the feed knows is dropped (a resync, no client left): a read begun
   * before then must not be remembered nor retried, as clients reload after it anyway.
   */
  private generation = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryInMs: number;
  private unsubscribe: (() => void) | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  private readonly authorised = new WeakMap<ServerResponse, () => Promise<boolean>>();
  private closedForGood = false;

  constructor(private readonly deps: SessionFeedDeps) {
    this.retryInMs = this.firstRetryMs;
  }

  private get firstRetryMs(): number {
    return this.deps.firstRetryMs ?? FIRST_RETRY_MS;
  }

  get size(): number {
    return this.clients.size;
  }

  /** True once the server began closing: a stream opened now would hold the close open. */
  get closed(): boolean {
    return this.closedForGood;
  }

  /** `stillAuthorised` is asked at every keep-alive; false disconnects the client. */
  start(raw: ServerResponse, stillAuthorised: () => Promise<boolean> = async () => true): void {
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
      // Reverse proxies (nginx) must not buffer a stream.
      'x-accel-buffering': 'no',
    });
    // A first line flushes the headers, so the client knows the stream is open.
    raw.write(': stream open\n\n');
    const socket = raw.socket;
    // The client may have gone already: 'close' would never fire again.
    if (socket === null || socket.destroyed) {
      raw.end();
      return;
    }
    raw.on('close', () => this.drop(raw));
    raw.on('error', () => this.drop(raw));
    this.clients.add(raw);
    this.authorised.set(raw, stillAuthorised);
    if (this.unsubscribe === null) this.follow();
  }

  /** Ends every stream and waits for a read in flight, so the store can be closed after this. */
  async closeAll(): Promise<void> {
    this.closedForGood = true;
    for (const client of [...this.clients]) this.drop(client);
    await this.flushing;
  }

  private follow(): void {
    const offAny = this.deps.bus.onAny((event) => this.note(event));
    const offMissed = this.deps.bus.onMissed(() => this.resync());
    this.unsubscribe = () => {
      offAny();
      offMissed();
    };
    this.keepAlive = setInterval(() => {
      for (const client of this.clients) {
        this.write(client, ': keep-alive\n\n');
        // A token revoked while its feed is open stops receiving at the next keep-alive.
        this.authorised
          .get(client)?.()
          .then(
            (allowed) => {
              if (!allowed) {
                this.drop(client);
                client.destroy();
              }
            },
            () => undefined,
          );
      }
    }, this.deps.keepAliveMs);
    this.keepAlive.unref();
  }

  private unfollow(): void {
    this.generation += 1;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryInMs = this.firstRetryMs;
    // Statuses are not followed from here on, so what the feed knows would go stale.
    this.statuses.clear();
    this.pending.clear();
    this.retrying.clear();
  }

  /**
   * Changes may have been committed that the feed never heard of: every client reloads its
   * list, and the statuses the feed knew are forgotten, as they may be stale.
   */
  private resync(): void {
    this.generation += 1;
    this.statuses.clear();
    // Their news is in the lists the clients reload.
    this.retrying.clear();
    for (const client of [...this.clients]) this.write(client, RESYNC_FRAME);
  }

  private drop(client: ServerResponse): void {
    if (!this.clients.delete(client)) return;
    if (!client.writableEnded) client.end();
    if (this.clients.size === 0) this.unfollow();
  }

  private write(client: ServerResponse, text: string): void {
    if (client.writableEnded) return;
    if (client.writableLength > MAX_BUFFERED_BYTES) {
      this.deps.log.warn(
        { buffered: client.writableLength },
        'session feed client too slow; cut off',
      );
      this.drop(client);
      // end() would queue behind the megabyte it is not reading; the socket goes now, and the
      // client's reconnect reloads what it missed.
      client.destroy();
      return;
    }
    client.write(text);
  }

  private note(event: StoredEvent): void {
    if (QUIET_TYPES.has(event.type)) return;
    const announcedSeq = STATUS_TYPES.has(event.type) ? event.seq : NOT_ANNOUNCED;
    if (announcedSeq !== NOT_ANNOUNCED) {
      // A read for other news may have seen this change committed before it was published
      // here, and learnt its status silently: that status is this change's, so forget it, and
      // the read this event causes sends it as news.
      const known = this.statuses.get(event.sessionId);
      if (known?.silent === true && known.seq >= event.seq) this.statuses.delete(event.sessionId);
    }
    const before = this.pending.get(event.sessionId) ?? NOT_ANNOUNCED;
    this.pending.set(event.sessionId, Math.max(before, announcedSeq));
    this.wake();
  }

  private wake(): void {
    if (this.flushing !== null) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = null;
      // News noted after the loop's last check must not wait for the next event.
      if (this.pending.size > 0 && this.unsubscribe !== null) this.wake();
    });
  }

  private async flush(): Promise<void> {
    // The rest of the batch being published arrives first: one read per session per batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.clients.size > 0) {
      const next = this.pending.entries().next();
      if (next.done === true) return;
      const [sessionId, noted] = next.value;
      this.pending.delete(sessionId);
      // A failed read's announcement rides along: this read covers it.
      const failed = this.retrying.get(sessionId);
      this.retrying.delete(sessionId);
      const announcedSeq = Math.max(noted, failed?.announcedSeq ?? NOT_ANNOUNCED);
      const generation = this.generation;
      let item: SessionListItem | null;
      try {
        item = await this.read(sessionId);
      } catch (error) {
        if (generation !== this.generation) continue;
        this.readFailed(
          sessionId,
          {
            announcedSeq,
            failures: (failed?.failures ?? 0) + 1,
          },
          error,
        );
        continue;
      }
      if (generation !== this.generation) continue;
      this.retryInMs = this.firstRetryMs;
      if (item === null) continue;
      const known = this.statuses.get(sessionId);
      let changed: boolean;
      if (known !== undefined) changed = known.status !== item.status;
      else {
        // A status change announced while this read was in flight, and already in what it
        // read, is news too: without this the feed would learn it silently here and then
        // find nothing changed when that announcement's own read comes.
        const announcedSince = this.pending.get(sessionId) ?? NOT_ANNOUNCED;
        changed =
          announcedSeq !== NOT_ANNOUNCED ||
          (announcedSince !== NOT_ANNOUNCED && announcedSince <= item.lastSeq);
      }
      this.remember(sessionId, { status: item.status, seq: item.lastSeq, silent: !changed });
      if (!changed) continue;
      const frame = sessionFrame(item);
      for (const client of this.clients) this.write(client, frame);
    }
  }

  /**
   * The change must not be lost: it is read again later, with a growing pause so that a failing
   * store is not hammered; a session that keeps failing is given up, and the clients reload.
   */
  private readFailed(sessionId: string, read: FailedRead, error: unknown): void {
    if (read.failures >= MAX_READ_TRIES) {
      this.deps.log.error(
        { err: error, sessionId, tries: read.failures },
        'session feed gave up reading a session; clients reload their lists',
      );
      this.resync();
      return;
    }
    this.deps.log.warn({ err: error, sessionId }, 'session feed read failed');
    this.retrying.set(sessionId, read);
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      for (const [retried, { announcedSeq }] of this.retrying) {
        const pending = this.pending.get(retried) ?? NOT_ANNOUNCED;
        this.pending.set(retried, Math.max(pending, announcedSeq));
      }
      // The entries stay until their reads take them: they carry the count of failures.
      this.wake();
    }, this.retryInMs);
    this.retryTimer.unref();
    this.retryInMs = Math.min(this.retryInMs * 2, MAX_RETRY_MS);
  }

  private async read(sessionId: string): Promise<SessionListItem | null> {
    const session = await this.deps.store.getSession(sessionId);
    if (session === null) return null;
    const runs = await this.deps.store.listRunsForSession(sessionId);
    return { ...session, runId: runs.at(-1)?.id ?? null };
  }

  private remember(sessionId: string, known: KnownStatus): void {
    // Re-inserted so the map's order is least recently seen first.
    this.statuses.delete(sessionId);
    this.statuses.set(sessionId, known);
    if (this.statuses.size > MAX_TRACKED) {
      const oldest = this.statuses.keys().next();
      if (oldest.done !== true) this.statuses.delete(oldest.value);
    }
  }
}
