import { assertNever } from '../kernel/index.js';
import type { RemoteWorkerRecord, RunLease } from '../store/index.js';
import type { WorkerStatus } from './api-deps.js';

/**
 * A remote worker is `stale` once it has not claimed or heartbeated for this long: a waiting
 * claim returns within 30 s and a worker heartbeats well inside its lease, so two missed
 * contacts mean something is wrong, though its leases may still be alive.
 */
export const WORKER_STALE_AFTER_MS = 60_000;
/** …and `offline` after this long (also when revoked or never seen). */
export const WORKER_OFFLINE_AFTER_MS = 300_000;
/**
 * How long a worker's own report that it is draining (SIGTERM) counts without being repeated.
 * A draining worker that holds runs repeats it with every heartbeat (at most 5 s apart); one
 * that holds none says it once and exits, and is shown `stale` after 60 s anyway. The bound
 * keeps a report that was never followed by another (the worker was killed) from showing for
 * long.
 */
export const SELF_DRAIN_CURRENT_MS = 60_000;

export type WorkerState = 'online' | 'busy' | 'draining' | 'stale' | 'offline';

/**
 * Derived from `lastSeenAt` by the injected clock's `nowMs`, never stored. `draining` is an
 * administrator's drain or the worker's own, reported within SELF_DRAIN_CURRENT_MS.
 */
export function remoteWorkerState(
  worker: RemoteWorkerRecord,
  holdsLeases: boolean,
  nowMs: number,
): WorkerState {
  if (worker.revokedAt !== null || worker.lastSeenAt === null) return 'offline';
  const silentMs = nowMs - Date.parse(worker.lastSeenAt);
  if (silentMs >= WORKER_OFFLINE_AFTER_MS) return 'offline';
  if (silentMs >= WORKER_STALE_AFTER_MS) return 'stale';
  const selfDraining =
    worker.selfDrainReportedAt !== null &&
    nowMs - Date.parse(worker.selfDrainReportedAt) < SELF_DRAIN_CURRENT_MS;
  if (worker.draining || selfDraining) return 'draining';
  return holdsLeases ? 'busy' : 'online';
}

export function embeddedWorkerState(state: WorkerStatus['state']): WorkerState {
  switch (state) {
    case 'idle':
      return 'online';
    case 'busy':
      return 'busy';
    case 'draining':
      return 'draining';
    case 'stopped':
      return 'offline';
    default:
      return assertNever(state, 'embedded worker state');
  }
}

/** The leases held by `owner`, oldest claim first. */
export function leasesOf(leases: readonly RunLease[], owner: string): RunLease[] {
  return leases.filter((lease) => lease.leaseOwner === owner);
}
