import { describe, expect, it } from 'vitest';
import { ManualClock } from '../kernel/index.js';
import type { LeaseGrant } from './control-plane-link.js';
import {
  applyHeartbeatOrders,
  type HeldLease,
  nextLapseInMs,
  stopLapsedLeases,
} from './held-lease.js';

/** A reading of both clocks at `ms` (a manual clock's two scales coincide). */
const at = (ms: number) => ({ elapsedMs: ms, wallMs: ms });

const LEASE_MS = 30_000;

function heldLease(runId: string, fencingToken: number): HeldLease {
  // Only the fields the heartbeat reads; the rest of a grant does not matter here.
  const grant = { runId, fencingToken, leaseMs: LEASE_MS } as LeaseGrant;
  return {
    grant,
    deadline: at(1_000),
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
    expect(applyHeartbeatOrders(held, sent, orders, at(5_000))).toEqual({
      lost: ['run_c'],
      cancelled: ['run_b'],
    });
    expect(held.get('run_a')).toMatchObject({
      order: 'ok',
      deadline: at(35_000),
    });
    expect(held.get('run_b')).toMatchObject({
      order: 'cancel',
      deadline: at(35_000),
    });
    expect(held.get('run_c')?.order).toBe('lost');
    expect(held.get('run_c')?.stop.signal.aborted).toBe(true);
    // A cancel already known is not news.
    const again = applyHeartbeatOrders(
      held,
      sent,
      [{ runId: 'run_b', order: 'cancel' }],
      at(6_000),
    );
    expect(again.cancelled).toEqual([]);
  });

  it('leaves alone a run claimed again while the beat was on its way', () => {
    // The beat carried token 5; the same run was claimed anew with token 6 meanwhile.
    const reclaimed = heldLease('run_a', 6);
    const held = new Map([['run_a', reclaimed]]);
    const sent = new Map([['run_a', 5]]);
    const lost = applyHeartbeatOrders(held, sent, [{ runId: 'run_a', order: 'lost' }], at(5_000));
    expect(lost).toEqual({ lost: [], cancelled: [] });
    expect(reclaimed.order).toBe('ok');
    expect(reclaimed.stop.signal.aborted).toBe(false);
    // Nor does an ok for the old token renew the new lease.
    applyHeartbeatOrders(held, sent, [{ runId: 'run_a', order: 'ok' }], at(5_000));
    expect(reclaimed.deadline).toEqual(at(1_000));
  });

  it('ignores orders for runs no longer held', () => {
    const held = new Map<string, HeldLease>();
    const orders = [{ runId: 'run_gone', order: 'lost' }] as const;
    expect(applyHeartbeatOrders(held, new Map([['run_gone', 1]]), orders, at(0)).lost).toEqual([]);
  });
});

describe('stopLapsedLeases and nextLapseInMs', () => {
  it('stops the leases due by now, once, and says when the next of the rest lapses', () => {
    const clock = new ManualClock(0);
    const due = heldLease('run_due', 1);
    const later = heldLease('run_later', 2);
    later.deadline = at(9_000);
    const lost = heldLease('run_lost', 3);
    lost.order = 'lost';
    lost.deadline = at(500);
    const held = [due, later, lost];
    expect(nextLapseInMs(held, clock)).toBe(1_000);
    clock.set(999);
    expect(stopLapsedLeases(held, clock)).toEqual([]);
    clock.set(1_000);
    expect(stopLapsedLeases(held, clock)).toEqual(['run_due']);
    expect(due).toMatchObject({ order: 'lost' });
    expect(due.stop.signal.aborted).toBe(true);
    expect(later.stop.signal.aborted).toBe(false);
    expect(lost.stop.signal.aborted).toBe(false);
    expect(stopLapsedLeases(held, clock)).toEqual([]);
    expect(nextLapseInMs(held, clock)).toBe(8_000);
    clock.set(9_000);
    expect(stopLapsedLeases(held, clock)).toEqual(['run_later']);
    expect(nextLapseInMs(held, clock)).toBeUndefined();
  });

  it('lapses by whichever clock has less left: a suspended host wakes up knowing', () => {
    // The monotonic clock stood still while the host slept an hour; the wall clock did not.
    const wokenUp = {
      elapsedMs: () => 1_000,
      nowMs: () => 3_601_000,
      now: () => new Date(3_601_000),
      nowIso: () => new Date(3_601_000).toISOString(),
    };
    const lease = heldLease('run_slept', 1);
    lease.deadline = at(30_000);
    expect(stopLapsedLeases([lease], wokenUp)).toEqual(['run_slept']);
  });
});
