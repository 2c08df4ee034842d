import type { Clock } from '../kernel/index.js';
import type {
  AttemptEnd,
  NewEvent,
  RunChanges,
  RunFence,
  RunRecord,
  RunStatus,
  Store,
  StoredEvent,
} from '../store/index.js';
import type { EventBus } from './event-bus.js';
import type { SessionEventMap, SessionEventType, TypedEvent } from './event-map.js';

/** The writes a recorder makes. */
export type RecorderStore = Pick<
  Store,
  | 'appendEvents'
  | 'updateRun'
  | 'createAttempt'
  | 'finishAttempt'
  | 'recordApproval'
  | 'recordPromotionStep'
>;

/** Build a typed event: the compiler checks the payload against the event map. */
export function sessionEvent<K extends SessionEventType>(
  type: K,
  data: SessionEventMap[K],
): TypedEvent<K> {
  return { type, data };
}

/**
 * Writes one session's history: every state change goes through the store together with its
 * events in one transaction, then the committed events are published on the bus. A fenced
 * recorder writes only while its run is still leased to it: once recovery has ended the run,
 * every write fails with LEASE_FENCED and nothing reaches the history.
 */
export class SessionRecorder {
  constructor(
    private readonly deps: { store: RecorderStore; clock: Clock; bus: EventBus },
    readonly sessionId: string,
    readonly actor: string,
    readonly fence?: RunFence,
  ) {}

  /** The same recorder, writing only while `fence.runId` is leased to `fence.leaseOwner`. */
  fenced(fence: RunFence): SessionRecorder {
    return new SessionRecorder(this.deps, this.sessionId, this.actor, fence);
  }

  private stamp(events: readonly TypedEvent[]): NewEvent[] {
    const at = this.deps.clock.nowIso();
    return events.map((event) => ({ type: event.type, at, actor: this.actor, data: event.data }));
  }

  async append(...events: TypedEvent[]): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    const stored = await this.deps.store.appendEvents(
      this.sessionId,
      this.stamp(events),
      this.fence,
    );
    this.deps.bus.publish(stored);
    return stored;
  }

  async updateRun(
    runId: string,
    changes: RunChanges,
    events: readonly TypedEvent[],
    expect?: { status?: readonly RunStatus[]; version?: number },
    /** Running attempts that end with this change, each with its `run.attempt.finished`. */
    finishAttempts: readonly (Omit<AttemptEnd, 'event'> & { readonly event: TypedEvent })[] = [],
  ): Promise<RunRecord> {
    const fencedExpect = this.fence
      ? {
          ...expect,
          leaseOwner: this.fence.leaseOwner,
          ...(this.fence.fencingToken === undefined
            ? {}
            : { fencingToken: this.fence.fencingToken }),
        }
      : expect;
    const result = await this.deps.store.updateRun({
      runId,
      changes,
      events: this.stamp(events),
      ...(fencedExpect ? { expect: fencedExpect } : {}),
      ...(finishAttempts.length === 0
        ? {}
        : {
            finishAttempts: finishAttempts.map((end) => ({
              ...end,
              event: { ...end.event, at: end.finishedAt, actor: this.actor },
            })),
          }),
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
      ...(this.fence ? { fence: this.fence } : {}),
    });
    this.deps.bus.publish(stored);
  }

  async recordApproval(
    input: Omit<Parameters<Store['recordApproval']>[0], 'events'>,
    events: readonly TypedEvent[],
  ): Promise<Awaited<ReturnType<Store['recordApproval']>>> {
    const result = await this.deps.store.recordApproval({ ...input, events: this.stamp(events) });
    this.deps.bus.publish(result.events);
    return result;
  }

  async recordPromotionStep(
    input: Omit<Parameters<Store['recordPromotionStep']>[0], 'events' | 'updatedAt'>,
    events: readonly TypedEvent[],
  ): Promise<Awaited<ReturnType<Store['recordPromotionStep']>>> {
    const result = await this.deps.store.recordPromotionStep({
      ...input,
      updatedAt: this.deps.clock.nowIso(),
      events: this.stamp(events),
    });
    this.deps.bus.publish(result.events);
    return result;
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
      ...(this.fence ? { fence: this.fence } : {}),
    });
    this.deps.bus.publish(stored);
  }
}
