import type { Clock } from '../kernel/index.js';

/** One instant read off both of a clock's scales. */
export interface ClockReading {
  readonly elapsedMs: number;
  readonly wallMs: number;
}

/**
 * When a lease this worker holds lapses by its own reckoning (after that the control plane may
 * have given the run to someone else), on both clocks. The monotonic one (Clock.elapsedMs) is
 * immune to steps of the wall clock, but on Linux it stands still while the host is suspended;
 * the wall clock keeps counting then. The lease lapses when either says so: a wall clock set
 * back cannot stretch it, a suspended host wakes up knowing it passed, and a wall clock set
 * forward can only end it early, which is the safe side.
 */
export interface LeaseDeadline {
  readonly elapsedMs: number;
  readonly wallMs: number;
}

export function readClock(clock: Clock): ClockReading {
  return { elapsedMs: clock.elapsedMs(), wallMs: clock.nowMs() };
}

export function deadlineAfter(from: ClockReading, ms: number): LeaseDeadline {
  return { elapsedMs: from.elapsedMs + ms, wallMs: from.wallMs + ms };
}

/** What is left of the lease now, by the clock that has less left; zero or less: lapsed. */
export function leaseLeftMs(deadline: LeaseDeadline, clock: Clock): number {
  return Math.min(deadline.elapsedMs - clock.elapsedMs(), deadline.wallMs - clock.nowMs());
}
