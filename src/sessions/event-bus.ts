import { EventEmitter } from 'node:events';
import type { StoredEvent } from '../store/index.js';
import type { SessionEventMap, SessionEventType } from './event-map.js';

/** A stored event whose payload is typed by its `type`. */
export type TypedStoredEvent<K extends SessionEventType = SessionEventType> = Omit<
  StoredEvent,
  'type' | 'data'
> & {
  readonly type: K;
  readonly data: SessionEventMap[K];
};

/**
 * Who committed a published event: this process (`local`), or another process sharing the
 * database whose event was relayed here (`replica`). Listeners that wake up on news take both;
 * listeners that count what this process did (metrics) take `local` only, or replicas scraped
 * side by side would each count every event.
 */
export type EventOrigin = 'local' | 'replica';

type Listener<K extends SessionEventType> = (
  event: TypedStoredEvent<K>,
  origin: EventOrigin,
) => void;
type AnyListener = (event: StoredEvent, origin: EventOrigin) => void;

/** Its own channel: no event type can be named like it. */
const MISSED = Symbol('missed');

/**
 * In-process fan-out of events AFTER they are committed. Listeners never see an event the
 * store does not have, so a crash cannot show a watcher something history lacks. Events of one
 * origin arrive in commit order per session; a session written by two processes at once may
 * interleave theirs out of seq order, so a listener that needs order reads the store.
 */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Progress printers, SSE streams and tests subscribe freely; none is a leak.
    this.emitter.setMaxListeners(0);
  }

  on<K extends SessionEventType>(type: K, listener: Listener<K>): () => void {
    const wrapped = (event: StoredEvent, origin: EventOrigin) =>
      listener(event as TypedStoredEvent<K>, origin);
    this.emitter.on(type, wrapped);
    return () => this.emitter.off(type, wrapped);
  }

  onAny(listener: AnyListener): () => void {
    this.emitter.on('*', listener);
    return () => this.emitter.off('*', listener);
  }

  /**
   * Says that events committed elsewhere may never reach this bus: the relay from the other
   * replicas was cut and has reconnected, or one of its reads failed. A listener that keeps
   * state learnt from the bus alone (the session list feed) re-reads the store; one that reads
   * the store anyway (an event stream) reads it now instead of at its next poll.
   */
  reportMissed(): void {
    for (const listener of this.emitter.listeners(MISSED)) {
      try {
        (listener as () => void)();
      } catch {
        // As in publish: a listener's failure is the listener's.
      }
    }
  }

  onMissed(listener: () => void): () => void {
    this.emitter.on(MISSED, listener);
    return () => this.emitter.off(MISSED, listener);
  }

  publish(events: readonly StoredEvent[], origin: EventOrigin = 'local'): void {
    for (const event of events) {
      // A throwing listener must not break the run that produced the event, nor starve the
      // other listeners: history is already durable, a listener failure is the listener's.
      for (const channel of [event.type, '*']) {
        try {
          this.emitter.emit(channel, event, origin);
        } catch {
          // See above.
        }
      }
    }
  }
}
