import type { EventBus, SessionEventType } from '../sessions/index.js';

/**
 * Events after which a claim that found nothing may find something: a run was queued or
 * requeued, or a run stopped running, which frees its repository's room under a per-repository
 * limit (`AAS_MAX_RUNNING_PER_REPO`). Without the last two, a worker waiting on a full
 * repository only looked again at its next poll, while the worker that had just finished
 * claimed the freed room at once with its next request: under a limit, the same workers kept
 * the repository and one waiting beside them never got a run (seen in the fleet test, where
 * one of three workers held nothing for minutes while the other two drained 200 runs).
 * Relayed events from other replicas wake the same way.
 */
export const CLAIM_WAKE_EVENT_TYPES = [
  'run.queued',
  'run.requeued',
  'run.completed',
  'run.interrupted',
] as const satisfies readonly SessionEventType[];

/** Calls `wake` on every CLAIM_WAKE_EVENT_TYPES event the bus publishes; returns the unsubscribe. */
export function onClaimableChange(bus: EventBus, wake: () => void): () => void {
  const offs = CLAIM_WAKE_EVENT_TYPES.map((type) => bus.on(type, () => wake()));
  return () => {
    for (const off of offs) off();
  };
}
