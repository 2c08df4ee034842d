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

type Listener<K extends SessionEventType> = (event: TypedStoredEvent<K>) => void;
type AnyListener = (event: StoredEvent) => void;

/**
 * In-process fan-out of events AFTER they are committed. Listeners never see an event the
 * store does not have, so a crash cannot show a watcher something history lacks.
 */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Progress printers, SSE streams and tests subscribe freely; none is a leak.
    this.emitter.setMaxListeners(0);
  }

  on<K extends SessionEventType>(type: K, listener: Listener<K>): () => void {
    const wrapped = (event: StoredEvent) => listener(event as TypedStoredEvent<K>);
    this.emitter.on(type, wrapped);
    return () => this.emitter.off(type, wrapped);
  }

  onAny(listener: AnyListener): () => void {
    this.emitter.on('*', listener);
    return () => this.emitter.off('*', listener);
  }

  publish(events: readonly StoredEvent[]): void {
    for (const event of events) {
      // A throwing listener must not break the run that produced the event, nor starve the
      // other listeners: history is already durable, a listener failure is the listener's.
      for (const channel of [event.type, '*']) {
        try {
          this.emitter.emit(channel, event);
        } catch {
          // See above.
        }
      }
    }
  }
}
