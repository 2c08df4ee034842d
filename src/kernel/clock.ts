/** Time comes from here, never from `Date.now()` in lease or schedule logic, so tests need no sleeping. */
export interface Clock {
  nowMs(): number;
  now(): Date;
  /** ISO-8601 UTC timestamp with millisecond precision. */
  nowIso(): string;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
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
