import type { Clock } from '../kernel/index.js';
import { STOP_REASON } from '../runner/index.js';
import type { LeaseGrant, LeaseOrderWire } from './control-plane-link.js';
import {
  type ClockReading,
  deadlineAfter,
  type LeaseDeadline,
  leaseLeftMs,
} from './lease-deadline.js';

/** A lease this worker holds, as its heartbeats see it. */
export interface HeldLease {
  readonly grant: LeaseGrant;
  deadline: LeaseDeadline;
  order: 'ok' | 'cancel' | 'lost';
  /** Stops the sandbox: the run was lost, or the worker must stop now. */
  readonly stop: AbortController;
  /** The base commit fetched for the run, once known: its cached checkout is never evicted. */
  baseCommit?: string;
}

/** What one heartbeat's answer changed: runs newly lost, and newly cancelled. */
export interface AppliedOrders {
  readonly lost: string[];
  readonly cancelled: string[];
}

/**
 * Applies a heartbeat's per-run orders to the leases held now. `sent` is what the beat carried
 * (run id → fencing token): an order speaks of that lease only. A run claimed again while the
 * beat was on its way (its earlier lease lapsed, the sweep requeued it, this worker took it
 * anew) holds a newer token, which a `lost` for the older one is not about, and which the beat
 * did not renew. `ok` and `cancel` renew from `sentAt`: the server counted from later, so the
 * worker errs the safe way.
 */
export function applyHeartbeatOrders(
  held: ReadonlyMap<string, HeldLease>,
  sent: ReadonlyMap<string, number>,
  orders: readonly { readonly runId: string; readonly order: LeaseOrderWire }[],
  sentAt: ClockReading,
): AppliedOrders {
  const applied: AppliedOrders = { lost: [], cancelled: [] };
  for (const { runId, order } of orders) {
    const lease = held.get(runId);
    if (lease === undefined || lease.grant.fencingToken !== sent.get(runId)) continue;
    switch (order) {
      case 'lost':
        lease.order = 'lost';
        lease.stop.abort(STOP_REASON.leaseLost);
        applied.lost.push(runId);
        break;
      case 'cancel':
        if (lease.order !== 'cancel') applied.cancelled.push(runId);
        lease.order = 'cancel';
        lease.deadline = deadlineAfter(sentAt, lease.grant.leaseMs);
        break;
      case 'ok':
        lease.deadline = deadlineAfter(sentAt, lease.grant.leaseMs);
        break;
      default: {
        const unknown: never = order;
        throw new Error(`unknown heartbeat order ${String(unknown)}`);
      }
    }
  }
  return applied;
}

/**
 * Marks lost, and stops, every lease whose deadline has passed by this worker's own reckoning
 * (the control plane may have given the run to someone else by then); returns their run ids.
 * A lease already lost is not news.
 */
export function stopLapsedLeases(held: Iterable<HeldLease>, clock: Clock): string[] {
  const lapsed: string[] = [];
  for (const lease of held) {
    if (lease.order === 'lost' || leaseLeftMs(lease.deadline, clock) > 0) continue;
    lease.order = 'lost';
    lease.stop.abort(STOP_REASON.leaseLost);
    lapsed.push(lease.grant.runId);
  }
  return lapsed;
}

/** How long until the first lease not yet lost lapses, or undefined when there is none. */
export function nextLapseInMs(held: Iterable<HeldLease>, clock: Clock): number | undefined {
  let soonest: number | undefined;
  for (const lease of held) {
    if (lease.order === 'lost') continue;
    const leftMs = leaseLeftMs(lease.deadline, clock);
    if (soonest === undefined || leftMs < soonest) soonest = leftMs;
  }
  return soonest;
}
