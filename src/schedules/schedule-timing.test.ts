import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import {
  canonicalTimezone,
  checkCronPattern,
  firstSlotFrom,
  MAX_SLOT_SCAN,
  nextSlotAfter,
  planFire,
  type ScheduleTiming,
  slotsThrough,
  upcomingSlots,
} from './schedule-timing.js';

const ms = (iso: string) => Date.parse(iso);
const iso = (value: number | null) => (value === null ? null : new Date(value).toISOString());
const isos = (values: readonly number[]) => values.map((value) => new Date(value).toISOString());

const MINUTE = 60_000;
const weekdaysAtNineBerlin: ScheduleTiming = {
  kind: 'cron',
  cron: '0 9 * * 1-5',
  timezone: 'Europe/Berlin',
};

function due(nextFireAt: string, misfire: 'skip' | 'run_once' = 'run_once') {
  return { pausedAt: null, nextFireAt, misfire } as const;
}

describe('slots', () => {
  it('a cron in a time zone keeps its local time across a daylight-saving change', () => {
    // Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29: 09:00 is 08:00Z, then 07:00Z.
    const slots = upcomingSlots(weekdaysAtNineBerlin, ms('2026-03-26T12:00:00Z'), 4);
    expect(isos(slots)).toEqual([
      '2026-03-27T08:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
      '2026-03-31T07:00:00.000Z',
      '2026-04-01T07:00:00.000Z',
    ]);
    // And back in October (UTC+2 to UTC+1 on Sunday 2026-10-25).
    expect(isos(upcomingSlots(weekdaysAtNineBerlin, ms('2026-10-23T12:00:00Z'), 2))).toEqual([
      '2026-10-26T08:00:00.000Z',
      '2026-10-27T08:00:00.000Z',
    ]);
  });

  it('a local time that occurs twice fires once; one that does not exist fires after the gap', () => {
    const halfPastTwo: ScheduleTiming = {
      kind: 'cron',
      cron: '30 2 * * *',
      timezone: 'Europe/Berlin',
    };
    expect(isos(upcomingSlots(halfPastTwo, ms('2026-10-24T12:00:00Z'), 2))).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
    expect(isos(upcomingSlots(halfPastTwo, ms('2026-03-28T12:00:00Z'), 2))).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('next is strictly after, first is at or after', () => {
    const slot = ms('2026-03-30T07:00:00Z');
    expect(iso(nextSlotAfter(weekdaysAtNineBerlin, slot))).toBe('2026-03-31T07:00:00.000Z');
    expect(iso(firstSlotFrom(weekdaysAtNineBerlin, slot))).toBe('2026-03-30T07:00:00.000Z');
  });

  it('an interval counts from its start', () => {
    const every15m: ScheduleTiming = {
      kind: 'interval',
      everySec: 900,
      startMs: ms('2026-01-01T00:00:00Z'),
    };
    expect(iso(nextSlotAfter(every15m, ms('2025-12-31T00:00:00Z')))).toBe(
      '2026-01-01T00:00:00.000Z',
    );
    expect(iso(nextSlotAfter(every15m, ms('2026-01-01T00:00:00Z')))).toBe(
      '2026-01-01T00:15:00.000Z',
    );
    expect(iso(nextSlotAfter(every15m, ms('2026-01-01T00:29:59.999Z')))).toBe(
      '2026-01-01T00:30:00.000Z',
    );
    expect(iso(firstSlotFrom(every15m, ms('2026-01-01T00:30:00Z')))).toBe(
      '2026-01-01T00:30:00.000Z',
    );
  });

  it('no slot lies past year 9999: the slots end there instead of leaving RFC 3339', () => {
    const daily: ScheduleTiming = {
      kind: 'interval',
      everySec: 86_400,
      startMs: ms('9999-12-30T00:00:00Z'),
    };
    expect(isos(upcomingSlots(daily, ms('9999-12-29T00:00:00Z'), 5))).toEqual([
      '9999-12-30T00:00:00.000Z',
      '9999-12-31T00:00:00.000Z',
    ]);
    expect(nextSlotAfter(daily, ms('9999-12-31T00:00:00Z'))).toBeNull();
    const newYear: ScheduleTiming = { kind: 'cron', cron: '0 0 1 1 *', timezone: 'UTC' };
    for (const slot of upcomingSlots(newYear, ms('9997-06-01T00:00:00Z'), 5)) {
      expect(new Date(slot).toISOString()).toMatch(/^\d{4}-/);
    }
  });

  it('once has one slot', () => {
    const once: ScheduleTiming = { kind: 'once', atMs: ms('2026-02-01T10:00:00Z') };
    expect(iso(firstSlotFrom(once, ms('2026-02-01T10:00:00Z')))).toBe('2026-02-01T10:00:00.000Z');
    expect(nextSlotAfter(once, ms('2026-02-01T10:00:00Z'))).toBeNull();
    expect(upcomingSlots(once, ms('2026-01-01T00:00:00Z'), 5)).toHaveLength(1);
  });

  it('counts the slots a downtime passed, and finds the latest', () => {
    const minutely: ScheduleTiming = { kind: 'cron', cron: '* * * * *', timezone: 'UTC' };
    const from = ms('2026-01-01T00:00:00Z');
    expect(slotsThrough(minutely, from, from + 5 * MINUTE + 30_000)).toEqual({
      latestMs: from + 5 * MINUTE,
      count: 6,
    });
    // Beyond the scan limit the count is a lower bound, the latest is still exact.
    const longDown = slotsThrough(minutely, from, from + 30 * 24 * 60 * MINUTE + 5_000);
    expect(longDown).toEqual({ latestMs: from + 30 * 24 * 60 * MINUTE, count: MAX_SLOT_SCAN });
    const every2m: ScheduleTiming = { kind: 'interval', everySec: 120, startMs: from };
    expect(slotsThrough(every2m, from, from + 7 * MINUTE)).toEqual({
      latestMs: from + 6 * MINUTE,
      count: 4,
    });
  });
});

describe('planFire', () => {
  const hourly: ScheduleTiming = { kind: 'cron', cron: '0 * * * *', timezone: 'UTC' };
  const graceMs = MINUTE;

  it('is not due before its slot, nor while paused, nor when finished', () => {
    const now = ms('2026-01-01T09:59:59Z');
    expect(planFire(due('2026-01-01T10:00:00.000Z'), hourly, now, graceMs)).toBeNull();
    const paused = { ...due('2026-01-01T09:00:00.000Z'), pausedAt: '2026-01-01T08:00:00.000Z' };
    expect(planFire(paused, hourly, now, graceMs)).toBeNull();
    expect(planFire({ ...due('x'), nextFireAt: null }, hourly, now, graceMs)).toBeNull();
  });

  it('fires a slot that is due within the grace, and moves to the next', () => {
    const plan = planFire(
      due('2026-01-01T10:00:00.000Z'),
      hourly,
      ms('2026-01-01T10:00:40Z'),
      graceMs,
    );
    expect(plan).toEqual({
      slotMs: ms('2026-01-01T10:00:00Z'),
      fire: true,
      missedSlots: 0,
      nextMs: ms('2026-01-01T11:00:00Z'),
      lateMs: 40_000,
    });
  });

  it('run_once after downtime fires once, for the latest missed slot', () => {
    const now = ms('2026-01-01T13:20:00Z');
    const plan = planFire(due('2026-01-01T10:00:00.000Z', 'run_once'), hourly, now, graceMs);
    expect(plan).toEqual({
      slotMs: ms('2026-01-01T13:00:00Z'),
      fire: true,
      missedSlots: 3,
      nextMs: ms('2026-01-01T14:00:00Z'),
      lateMs: 20 * MINUTE,
    });
  });

  it('skip after downtime lets the missed slots pass and waits for the next', () => {
    const now = ms('2026-01-01T13:20:00Z');
    const plan = planFire(due('2026-01-01T10:00:00.000Z', 'skip'), hourly, now, graceMs);
    expect(plan).toEqual({
      slotMs: ms('2026-01-01T10:00:00Z'),
      fire: false,
      missedSlots: 4,
      nextMs: ms('2026-01-01T14:00:00Z'),
      lateMs: 200 * MINUTE,
    });
  });

  it('skip still fires the latest slot when that one is on time', () => {
    const now = ms('2026-01-01T13:00:30Z');
    const plan = planFire(due('2026-01-01T10:00:00.000Z', 'skip'), hourly, now, graceMs);
    expect(plan).toMatchObject({ fire: false, missedSlots: 3, nextMs: ms('2026-01-01T13:00:00Z') });
    const then = planFire(due('2026-01-01T13:00:00.000Z', 'skip'), hourly, now, graceMs);
    expect(then).toMatchObject({ fire: true, slotMs: ms('2026-01-01T13:00:00Z'), missedSlots: 0 });
  });

  it('a grace longer than the period does not fire every slot a downtime passed', () => {
    const everyMinute: ScheduleTiming = {
      kind: 'interval',
      everySec: 60,
      startMs: ms('2026-01-01T10:00:00Z'),
    };
    const now = ms('2026-01-01T10:30:00Z');
    const hourGrace = 60 * MINUTE;
    const runOnce = planFire(
      due('2026-01-01T10:00:00.000Z', 'run_once'),
      everyMinute,
      now,
      hourGrace,
    );
    expect(runOnce).toEqual({
      slotMs: now,
      fire: true,
      missedSlots: 30,
      nextMs: ms('2026-01-01T10:31:00Z'),
      lateMs: 0,
    });
    const skip = planFire(due('2026-01-01T10:00:00.000Z', 'skip'), everyMinute, now, hourGrace);
    expect(skip).toMatchObject({ fire: false, missedSlots: 30, nextMs: now });
  });

  it('a tick a whole period late still fires the slot it was late for, not only the next', () => {
    const everyMinute: ScheduleTiming = {
      kind: 'interval',
      everySec: 60,
      startMs: ms('2026-01-01T10:00:00Z'),
    };
    const now = ms('2026-01-01T10:01:00.500Z');
    const plan = planFire(
      due('2026-01-01T10:00:00.000Z', 'run_once'),
      everyMinute,
      now,
      2 * MINUTE,
    );
    expect(plan).toMatchObject({
      slotMs: ms('2026-01-01T10:00:00Z'),
      fire: true,
      missedSlots: 0,
      nextMs: ms('2026-01-01T10:01:00Z'),
    });
  });

  it('a once schedule missed by a downtime runs once or is skipped, then is finished', () => {
    const once: ScheduleTiming = { kind: 'once', atMs: ms('2026-01-01T10:00:00Z') };
    const now = ms('2026-01-02T00:00:00Z');
    expect(planFire(due('2026-01-01T10:00:00.000Z', 'run_once'), once, now, graceMs)).toEqual({
      slotMs: ms('2026-01-01T10:00:00Z'),
      fire: true,
      missedSlots: 0,
      nextMs: null,
      lateMs: 14 * 60 * MINUTE,
    });
    expect(planFire(due('2026-01-01T10:00:00.000Z', 'skip'), once, now, graceMs)).toMatchObject({
      fire: false,
      missedSlots: 1,
      nextMs: null,
    });
  });
});

describe('validation', () => {
  const codeOf = (action: () => unknown) => {
    try {
      action();
    } catch (thrown) {
      if (isAasError(thrown)) return { code: thrown.code, field: thrown.details.field };
      throw thrown;
    }
    return null;
  };

  it('names the field of a bad pattern or time zone', () => {
    expect(codeOf(() => checkCronPattern('61 * * * *', 'UTC', 'timing.cron'))).toEqual({
      code: 'INVALID_ARGUMENT',
      field: 'timing.cron',
    });
    // Seconds are not a schedule's resolution: five fields only.
    expect(codeOf(() => checkCronPattern('* * * * * *', 'UTC', 'timing.cron'))).toMatchObject({
      field: 'timing.cron',
    });
    expect(codeOf(() => canonicalTimezone('Mars/Olympus', 'timing.timezone'))).toEqual({
      code: 'INVALID_ARGUMENT',
      field: 'timing.timezone',
    });
    expect(canonicalTimezone('europe/berlin', 'tz')).toBe('Europe/Berlin');
    // An alias stays as named, not as ICU's own name for the zone.
    expect(canonicalTimezone('Asia/Kolkata', 'tz')).toBe('Asia/Kolkata');
    expect(canonicalTimezone('Europe/Kyiv', 'tz')).toBe('Europe/Kyiv');
    const kolkata: ScheduleTiming = { kind: 'cron', cron: '30 9 * * *', timezone: 'Asia/Kolkata' };
    expect(
      new Date(nextSlotAfter(kolkata, Date.parse('2026-12-07T00:00:00Z')) ?? 0).toISOString(),
    ).toBe('2026-12-07T04:00:00.000Z');
    expect(codeOf(() => checkCronPattern('@daily', 'UTC', 'timing.cron'))).toBeNull();
  });
});
