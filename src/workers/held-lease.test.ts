import { describe, expect, it } from 'vitest';
import type { LeaseGrant } from './control-plane-link.js';
import {
  applyHeartbeatOrders,
  type HeldLease,
  nextLeaseDeadlineMs,
  stopLapsedLeases,
} from './held-lease.js';

const LEASE_MS = 30_000;

function heldLease(runId: string, fencingToken: number): HeldLease {
  // Only the fields the heartbeat reads; the rest of a grant does not matter here.
  const grant = { runId, fencingToken, leaseMs: LEASE_MS } as LeaseGrant;
  return {
    grant,
    deadline: { expiresAtElapsedMs: 1_000 },
    order: 'ok',
    stop: new AbortController(),
  };
}

describe('applyHeartbeatOrders', () => {
  it('renews on ok, marks a cancel once, stops a lost run', () => {
    const held = new Map([
      ['run_a', heldLease('run_a', 1)],
      ['run_b', heldLease('run_b', 2)],
      ['run_c', heldLease('run_c', 3)],
    ]);
    const sent = new Map([
      ['run_a', 1],
      ['run_b', 2],
      ['run_c', 3],
    ]);
    const orders = [
      { runId: 'run_a', order: 'ok' },
      { runId: 'run_b', order: 'cancel' },
      { runId: 'run_c', order: 'lost' },
    ] as const;
    expect(applyHeartbeatOrders(held, sent, orders, 5_000)).toEqual({
      lost: ['run_c'],
      cancelled: ['run_b'],
    });
    expect(held.get('run_a')).toMatchObject({
      order: 'ok',
      deadline: { expiresAtElapsedMs: 35_000 },
    });
    expect(held.get('run_b')).toMatchObject({
      order: 'cancel',
      deadline: { expiresAtElapsedMs: 35_000 },
    });
    expect(held.get('run_c')?.order).toBe('lost');
    expect(held.get('run_c')?.stop.signal.aborted).toBe(true);
    // A cancel already known is not news.
    const again = applyHeartbeatOrders(held, sent, [{ runId: 'run_b', order: 'cancel' }], 6_000);
    expect(again.cancelled).toEqual([]);
  });

  it('leaves alone a run claimed again while the beat was on its way', () => {
    // The beat carried token 5; the same run was claimed anew with token 6 meanwhile.
    const reclaimed = heldLease('run_a', 6);
    const held = new Map([['run_a', reclaimed]]);
    const sent = new Map([['run_a', 5]]);
    const lost = applyHeartbeatOrders(held, sent, [{ runId: 'run_a', order: 'lost' }], 5_000);
    expect(lost).toEqual({ lost: [], cancelled: [] });
    expect(reclaimed.order).toBe('ok');
    expect(reclaimed.stop.signal.aborted).toBe(false);
    // Nor does an ok for the old token renew the new lease.
    applyHeartbeatOrders(held, sent, [{ runId: 'run_a', order: 'ok' }], 5_000);
    expect(reclaimed.deadline.expiresAtElapsedMs).toBe(1_000);
  });

  it('ignores orders for runs no longer held', () => {
    const held = new Map<string, HeldLease>();
    const orders = [{ runId: 'run_gone', order: 'lost' }] as const;
    expect(applyHeartbeatOrders(held, new Map([['run_gone', 1]]), orders, 0).lost).toEqual([]);
  });
});

describe('stopLapsedLeases and nextLeaseDeadlineMs', () => {
  it('stops the leases due by now, once, and names the next deadline among the rest', () => {
    const due = heldLease('run_due', 1);
    const later = heldLease('run_later', 2);
    later.deadline = { expiresAtElapsedMs: 9_000 };
    const lost = heldLease('run_lost', 3);
    lost.order = 'lost';
    lost.deadline = { expiresAtElapsedMs: 500 };
    const held = [due, later, lost];
    expect(nextLeaseDeadlineMs(held)).toBe(1_000);
    expect(stopLapsedLeases(held, 999)).toEqual([]);
    expect(stopLapsedLeases(held, 1_000)).toEqual(['run_due']);
    expect(due).toMatchObject({ order: 'lost' });
    expect(due.stop.signal.aborted).toBe(true);
    expect(later.stop.signal.aborted).toBe(false);
    expect(lost.stop.signal.aborted).toBe(false);
    expect(stopLapsedLeases(held, 1_000)).toEqual([]);
    expect(nextLeaseDeadlineMs(held)).toBe(9_000);
    expect(stopLapsedLeases(held, 9_000)).toEqual(['run_later']);
    expect(nextLeaseDeadlineMs(held)).toBeUndefined();
  });
});
