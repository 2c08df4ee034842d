import type { Clock } from '../kernel/index.js';
import type {
  NewEvent,
  RunChanges,
  RunRecord,
  RunStatus,
  Store,
  StoredEvent,
} from '../store/index.js';
import type { EventBus } from './event-bus.js';
import type { SessionEventMap, SessionEventType, TypedEvent } from './event-map.js';

/** Build a typed event: the compiler checks the payload against the event map. */
export function sessionEvent<K extends SessionEventType>(
  type: K,
  data: SessionEventMap[K],
): TypedEvent<K> {
  return { type, data };
}

/**
 * Writes one session's history: every state change goes through the store together with its
 * events in one transaction, then the committed events are published on the bus.
 */
export class SessionRecorder {
  constructor(
    private readonly deps: { store: Store; clock: Clock; bus: EventBus },
    readonly sessionId: string,
    readonly actor: string,
  ) {}

  private stamp(events: readonly TypedEvent[]): NewEvent[] {
    const at = this.deps.clock.nowIso();
    return events.map((event) => ({ type: event.type, at, actor: this.actor, data: event.data }));
  }

  async append(...events: TypedEvent[]): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    const stored = await this.deps.store.appendEvents(this.sessionId, this.stamp(events));
    this.deps.bus.publish(stored);
    return stored;
  }

  async updateRun(
    runId: string,
    changes: RunChanges,
    events: readonly TypedEvent[],
    expect?: { status?: readonly RunStatus[]; version?: number },
  ): Promise<RunRecord> {
    const result = await this.deps.store.updateRun({
      runId,
      changes,
      events: this.stamp(events),
      ...(expect ? { expect } : {}),
    });
    this.deps.bus.publish(result.events);
    return result.run;
  }

  async createAttempt(
    attempt: { id: string; runId: string; number: number; agentId: string },
    events: readonly TypedEvent[],
  ): Promise<void> {
    const stored = await this.deps.store.createAttempt({
      attempt: { ...attempt, startedAt: this.deps.clock.nowIso() },
      events: this.stamp(events),
    });
    this.deps.bus.publish(stored);
  }

  async finishAttempt(
    input: {
      attemptId: string;
      status: 'succeeded' | 'failed' | 'blocked';
      reasonCode: string;
      detail: unknown;
    },
    events: readonly TypedEvent[],
  ): Promise<void> {
    const stored = await this.deps.store.finishAttempt({
      ...input,
      finishedAt: this.deps.clock.nowIso(),
      events: this.stamp(events),
    });
    this.deps.bus.publish(stored);
  }
}
