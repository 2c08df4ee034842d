import type { ServerResponse } from 'node:http';
import type { Logger } from '../kernel/index.js';
import type { EventBus } from '../sessions/index.js';
import type { Store, StoredEvent } from '../store/index.js';

/** Events read from the store per round; a long backlog is sent in several rounds. */
const READ_BATCH = 500;
/** How long a closing server waits for a stream whose client stopped reading (see close). */
const CLOSE_DRAIN_WAIT_MS = 1_000;

export interface EventStreamDeps {
  readonly store: Store;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly pollMs: number;
  readonly keepAliveMs: number;
}

/**
 * One event as a Server-Sent Events frame. `data` is one line of JSON (JSON.stringify escapes
 * every line break); an event type is stripped of line breaks so a recorded type can never
 * inject a field.
 */
export function sseFrame(event: StoredEvent): string {
  const data = {
    sessionId: event.sessionId,
    seq: event.seq,
    type: event.type,
    at: event.at,
    actor: event.actor,
    data: event.data,
    prevHash: event.prevHash,
    hash: event.hash,
  };
  const type = event.type.replace(/[\r\n]+/g, ' ');
  return `id: ${event.seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * One client following one session. The store is the only source of what is written: the bus
 * (events committed by this process, and by other replicas when they are relayed) and the
 * server's poll (anything the bus never carried, see EventStreams) only wake the stream, which
 * then reads everything after the last seq it sent. Reads are serialised per stream, so a wake-up during a read is folded
 * into one more read afterwards: no seq is skipped, none is sent twice, whatever the order in
 * which bus events, polls and store answers arrive.
 */
class EventStream {
  private sentSeq: number;
  private wanted = false;
  private pumping: Promise<void> | null = null;
  private ended = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deps: EventStreamDeps,
    private readonly raw: ServerResponse,
    readonly sessionId: string,
    afterSeq: number,
    private readonly onEnd: (stream: EventStream) => void,
    private readonly stillAuthorised: () => Promise<boolean>,
  ) {
    this.sentSeq = afterSeq;
  }

  /** The last seq sent: the poll wakes the stream when its session's head is past it. */
  get lastSent(): number {
    return this.sentSeq;
  }

  start(): void {
    this.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
      // Reverse proxies (nginx) must not buffer a stream.
      'x-accel-buffering': 'no',
    });
    // A first line flushes the headers, so the client knows the stream is open.
    this.raw.write(': stream open\n\n');
    this.raw.on('close', () => this.end());
    this.raw.on('error', () => this.end());
    // The client may have gone while the session was being looked up: 'close' already fired.
    const socket = this.raw.socket;
    if (socket === null || socket.destroyed) {
      this.end();
      return;
    }
    const keepAlive = setInterval(() => {
      if (this.ended) return;
      this.raw.write(': keep-alive\n\n');
      // A token revoked while its stream is open stops receiving at the next keep-alive.
      this.stillAuthorised().then(
        (allowed) => {
          if (!allowed) this.end();
        },
        () => undefined,
      );
    }, this.deps.keepAliveMs);
    keepAlive.unref();
    this.timers.push(keepAlive);
    this.wake();
  }

  wake(): void {
    if (this.ended) return;
    this.wanted = true;
    if (this.pumping !== null) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      // A wake-up between the last read's end and this line must not wait for the next poll.
      if (this.wanted) this.wake();
    });
  }

  private async pump(): Promise<void> {
    while (this.wanted && !this.ended) {
      this.wanted = false;
      let events: StoredEvent[];
      try {
        events = await this.deps.store.readEvents(this.sessionId, {
          afterSeq: this.sentSeq,
          limit: READ_BATCH,
        });
      } catch (error) {
        // The next poll wakes it again (not at once: a failing store would be hammered); the
        // client keeps its place either way.
        this.wanted = false;
        if (!this.ended) {
          this.deps.log.warn({ err: error, sessionId: this.sessionId }, 'event stream read failed');
        }
        return;
      }
      for (const event of events) {
        if (this.ended) return;
        if (event.seq !== this.sentSeq + 1) {
          // The store promises gap-free seqs; never paper over a hole by skipping it.
          this.deps.log.warn(
            { sessionId: this.sessionId, expected: this.sentSeq + 1, got: event.seq },
            'event stream saw a gap; reading again at the next poll',
          );
          return;
        }
        const flushed = this.raw.write(sseFrame(event));
        this.sentSeq = event.seq;
        if (!flushed) await this.drained();
      }
      if (events.length === READ_BATCH) this.wanted = true;
    }
  }

  /** A slow client holds the stream back instead of growing the server's buffers. */
  private drained(): Promise<void> {
    return this.closedOr('drain');
  }

  /** Resolves on `event`, or when the connection closes first. */
  private closedOr(event: 'drain' | 'finish'): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.raw.off(event, done);
        this.raw.off('close', done);
        resolve();
      };
      this.raw.on(event, done);
      this.raw.on('close', done);
    });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const timer of this.timers) clearInterval(timer);
    if (!this.raw.writableEnded) this.raw.end();
    this.onEnd(this);
  }

  /**
   * Ends the stream and waits for a read in flight, so the store can be closed after this. A
   * client that stopped reading (a laptop asleep, its TCP window full) would hold a pump waiting
   * for 'drain' for ever, and with it the server's close: after a short wait its connection is
   * destroyed. It resumes from Last-Event-ID like after any dropped connection.
   */
  async close(): Promise<void> {
    this.end();
    const cutOff = setTimeout(() => this.raw.destroy(), CLOSE_DRAIN_WAIT_MS);
    try {
      await this.pumping;
      // The HTTP server's own close waits for this connection too, until what it holds is sent.
      await this.finished();
    } finally {
      clearTimeout(cutOff);
    }
  }

  private finished(): Promise<void> {
    if (this.raw.writableFinished || this.raw.destroyed) return Promise.resolve();
    return this.closedOr('finish');
  }
}

/**
 * Every open stream of one server, so that closing the server ends them all, and what wakes
 * them: one bus listener that hands each event to the streams of its session only, and one
 * poll, a read of the last seqs of every followed session per `pollMs` (and at once when the
 * bus may have missed events), waking only the streams whose session has moved on. A thousand
 * idle streams cost one query a second and one listener call per event, not a thousand.
 */
export class EventStreams {
  private readonly open = new Set<EventStream>();
  private readonly bySession = new Map<string, Set<EventStream>>();
  private offAny: (() => void) | null = null;
  private closedForGood = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private offMissed: (() => void) | null = null;
  private polling: Promise<void> | null = null;
  private pollAgain = false;

  constructor(private readonly deps: EventStreamDeps) {}

  get size(): number {
    return this.open.size;
  }

  /** True once the server began closing: a stream opened now would hold the close open. */
  get closed(): boolean {
    return this.closedForGood;
  }

  /** `stillAuthorised` is asked at every keep-alive; false ends the stream. */
  start(
    raw: ServerResponse,
    sessionId: string,
    afterSeq: number,
    stillAuthorised: () => Promise<boolean> = async () => true,
  ): void {
    const stream = new EventStream(
      this.deps,
      raw,
      sessionId,
      afterSeq,
      (ended) => this.ended(ended),
      stillAuthorised,
    );
    this.open.add(stream);
    const followers = this.bySession.get(sessionId);
    if (followers === undefined) this.bySession.set(sessionId, new Set([stream]));
    else followers.add(stream);
    if (this.pollTimer === null) {
      this.pollTimer = setInterval(() => this.pollNow(), this.deps.pollMs);
      this.pollTimer.unref();
      this.offMissed = this.deps.bus.onMissed(() => this.pollNow());
      this.offAny = this.deps.bus.onAny((event) => {
        for (const follower of this.bySession.get(event.sessionId) ?? []) {
          if (event.seq > follower.lastSent) follower.wake();
        }
      });
    }
    stream.start();
  }

  async closeAll(): Promise<void> {
    this.closedForGood = true;
    await Promise.all([...this.open].map((stream) => stream.close()));
    await this.polling;
  }

  private ended(stream: EventStream): void {
    this.open.delete(stream);
    const followers = this.bySession.get(stream.sessionId);
    followers?.delete(stream);
    if (followers?.size === 0) this.bySession.delete(stream.sessionId);
    if (this.open.size > 0 || this.pollTimer === null) return;
    clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.offMissed?.();
    this.offMissed = null;
    this.offAny?.();
    this.offAny = null;
  }

  /** A poll asked for while one is in flight runs after it: that one may have read too early. */
  private pollNow(): void {
    if (this.polling !== null) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.poll().finally(() => {
      this.polling = null;
      if (!this.pollAgain || this.closedForGood) return;
      this.pollAgain = false;
      this.pollNow();
    });
  }

  private async poll(): Promise<void> {
    const streams = [...this.open];
    if (streams.length === 0) return;
    let heads: Map<string, number>;
    try {
      heads = await this.deps.store.lastSeqs(streams.map((stream) => stream.sessionId));
    } catch (error) {
      // The next poll asks again; every stream keeps its place.
      this.deps.log.warn({ err: error, streams: streams.length }, 'event stream poll failed');
      return;
    }
    for (const stream of streams) {
      const head = heads.get(stream.sessionId);
      if (head !== undefined && head > stream.lastSent) stream.wake();
    }
  }
}
