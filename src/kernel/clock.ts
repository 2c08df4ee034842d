/** Time comes from here, never from `Date.now()` in lease or schedule logic, so tests need no sleeping. */
export interface Clock {
  nowMs(): number;
  /**
   * Milliseconds from an arbitrary origin that never goes back (the system's monotonic clock):
   * for durations and deadlines that a step of the wall clock (NTP, an operator) must not move,
   * such as how long a lease this process holds has left. Not a time of day.
   */
  elapsedMs(): number;
  now(): Date;
  /** ISO-8601 UTC timestamp with millisecond precision. */
  nowIso(): string;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  elapsedMs: () => performance.now(),
  now: () => new Date(),
  nowIso: () => new Date().toISOString(),
};

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  private currentMs: number;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  /** Moves with the wall clock here, which only moves when told to. */
  elapsedMs(): number {
    return this.currentMs;
  }

  now(): Date {
    return new Date(this.currentMs);
  }

  nowIso(): string {
    return new Date(this.currentMs).toISOString();
  }

  advance(ms: number): void {
    this.currentMs += ms;
  }

  set(ms: number): void {
    this.currentMs = ms;
  }
}
