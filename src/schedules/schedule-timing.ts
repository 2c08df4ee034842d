import { Cron } from 'croner';
import { AasError, assertNever } from '../kernel/index.js';
import type { ScheduleRecord } from '../store/index.js';

/**
 * When a schedule's slots are. Slots are instants (ms since the epoch, UTC); a schedule fires
 * at most once per slot.
 *
 * - `once`: one slot, `atMs`.
 * - `interval`: `startMs`, then every `everySec` seconds after it.
 * - `cron`: a five-field cron pattern (minute resolution) read in an IANA time zone, so
 *   "09:00 on weekdays in Europe/Berlin" stays 09:00 local across daylight-saving changes. A
 *   local time that occurs twice fires once; one that does not exist fires right after the gap
 *   (croner's rules, which are Vixie cron's).
 */
export type ScheduleTiming =
  | { readonly kind: 'once'; readonly atMs: number }
  | { readonly kind: 'interval'; readonly everySec: number; readonly startMs: number }
  | { readonly kind: 'cron'; readonly cron: string; readonly timezone: string };

/** The shortest interval: a schedule is for recurring work, not a busy loop. */
export const MIN_INTERVAL_SEC = 60;
/** The longest interval: a year. */
export const MAX_INTERVAL_SEC = 31_536_000;
/** How many slots a misfire scan walks before it stops counting (a minutely cron, long down). */
export const MAX_SLOT_SCAN = 1_000;

const cronCache = new Map<string, Cron>();

/** A paused croner job (never started: it computes, it does not schedule anything). */
function cronJob(cron: string, timezone: string): Cron {
  const key = `${timezone} ${cron}`;
  let job = cronCache.get(key);
  if (job === undefined) {
    job = new Cron(cron, { timezone, paused: true, mode: '5-part' });
    if (cronCache.size > 1_000) cronCache.clear();
    cronCache.set(key, job);
  }
  return job;
}

/**
 * An IANA time zone as the user named it, its case corrected when that is the zone's own name
 * (`europe/berlin` → `Europe/Berlin`), or INVALID_ARGUMENT naming `field`. An alias typed with
 * its capitals is kept:
 * ICU would turn `Asia/Kolkata` into `Asia/Calcutta` and `Europe/Kyiv` into `Europe/Kiev`,
 * names the user never typed (both work alike with Intl and croner).
 */
export function canonicalTimezone(timezone: string, field: string): string {
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions()
      .timeZone;
    if (resolved.toLowerCase() === timezone.toLowerCase()) return resolved;
    // An alias typed in lower case cannot be given its case back: ICU's name it is.
    return timezone === timezone.toLowerCase() ? resolved : timezone;
  } catch {
    throw new AasError('INVALID_ARGUMENT', `"${timezone}" is not an IANA time zone`, {
      field,
      hint: 'e.g. UTC, Europe/Berlin, America/New_York',
    });
  }
}

/** Validates a cron pattern (five fields) in a zone; INVALID_ARGUMENT naming `field` if not. */
export function checkCronPattern(cron: string, timezone: string, field: string): void {
  try {
    // A job that is built here, not from the cache: a bad pattern must not be cached.
    new Cron(cron, { timezone, paused: true, mode: '5-part' });
  } catch (thrown) {
    const reason = thrown instanceof Error ? thrown.message.replace(/^CronPattern: /, '') : '';
    throw new AasError('INVALID_ARGUMENT', `"${cron}" is not a cron pattern: ${reason}`, {
      field,
      hint: 'five fields: minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"',
    });
  }
}

/**
 * The last instant stored as a four-digit year. Fire times are kept as ISO text in UTC and
 * compared as text (what is due is `next_fire_at <= now`); past year 9999 (`+010000-…`) the
 * text is not RFC 3339 and no longer sorts by time. No slot lies beyond it: a schedule whose
 * next slot would is over, as a `once` schedule is after its slot.
 */
export const LAST_INSTANT_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** The first slot strictly after `afterMs`, or null when there is none (up to year 9999). */
export function nextSlotAfter(timing: ScheduleTiming, afterMs: number): number | null {
  const next = anySlotAfter(timing, afterMs);
  return next === null || next > LAST_INSTANT_MS ? null : next;
}

function anySlotAfter(timing: ScheduleTiming, afterMs: number): number | null {
  switch (timing.kind) {
    case 'once':
      return timing.atMs > afterMs ? timing.atMs : null;
    case 'interval': {
      if (afterMs < timing.startMs) return timing.startMs;
      const stepMs = timing.everySec * 1000;
      return timing.startMs + (Math.floor((afterMs - timing.startMs) / stepMs) + 1) * stepMs;
    }
    case 'cron':
      return cronJob(timing.cron, timing.timezone).nextRun(new Date(afterMs))?.getTime() ?? null;
    default:
      return assertNever(timing);
  }
}

/** The first slot at or after `fromMs`. */
export function firstSlotFrom(timing: ScheduleTiming, fromMs: number): number | null {
  return nextSlotAfter(timing, fromMs - 1);
}

/**
 * The first slot of a timing that starts now (created, changed or resumed): the first one
 * strictly after now, so a schedule made at 09:00:00 for "0 9 * * *" starts tomorrow rather than
 * firing at once; a `once` at exactly now still fires.
 */
export function firstSlotOfNewTiming(timing: ScheduleTiming, nowMs: number): number | null {
  return timing.kind === 'once' ? firstSlotFrom(timing, nowMs) : nextSlotAfter(timing, nowMs);
}

/** Up to `count` slots from `fromMs` on (inclusive). */
export function upcomingSlots(timing: ScheduleTiming, fromMs: number, count: number): number[] {
  const slots: number[] = [];
  let next = firstSlotFrom(timing, fromMs);
  while (next !== null && slots.length < count) {
    slots.push(next);
    next = nextSlotAfter(timing, next);
  }
  return slots;
}

/**
 * The slots from `dueMs` (itself a slot) up to `nowMs`: how many there are, and the latest.
 * A cron's `count` stops at MAX_SLOT_SCAN (a lower bound then); the latest is exact either way.
 */
export function slotsThrough(
  timing: ScheduleTiming,
  dueMs: number,
  nowMs: number,
): { readonly latestMs: number; readonly count: number } {
  if (nowMs < dueMs) return { latestMs: dueMs, count: 0 };
  switch (timing.kind) {
    case 'once':
      return { latestMs: dueMs, count: 1 };
    case 'interval': {
      const stepMs = timing.everySec * 1000;
      const steps = Math.floor((nowMs - dueMs) / stepMs);
      return { latestMs: dueMs + steps * stepMs, count: steps + 1 };
    }
    case 'cron': {
      let latestMs = dueMs;
      let count = 1;
      for (;;) {
        const next = nextSlotAfter(timing, latestMs);
        if (next === null || next > nowMs) return { latestMs, count };
        latestMs = next;
        count += 1;
        if (count >= MAX_SLOT_SCAN) break;
      }
      // Too many to walk: croner finds the latest slot directly (slots are whole minutes, so
      // every slot before the next whole second after now is at or before now).
      const previous = cronJob(timing.cron, timing.timezone).previousRuns(
        1,
        new Date(Math.floor(nowMs / 1000) * 1000 + 1000),
      )[0];
      return { latestMs: Math.max(latestMs, previous?.getTime() ?? latestMs), count };
    }
    default:
      return assertNever(timing);
  }
}

/** The timing of a stored schedule. */
export function timingOf(schedule: ScheduleRecord): ScheduleTiming {
  const broken = (what: string) =>
    new AasError('INTERNAL', `schedule ${schedule.id} has no ${what}`, {
      scheduleId: schedule.id,
    });
  switch (schedule.kind) {
    case 'once':
      if (schedule.at === null) throw broken('at');
      return { kind: 'once', atMs: Date.parse(schedule.at) };
    case 'interval':
      if (schedule.at === null || schedule.everySec === null) throw broken('interval');
      return { kind: 'interval', everySec: schedule.everySec, startMs: Date.parse(schedule.at) };
    case 'cron':
      if (schedule.cron === null || schedule.timezone === null) throw broken('cron pattern');
      return { kind: 'cron', cron: schedule.cron, timezone: schedule.timezone };
    default:
      return assertNever(schedule.kind);
  }
}

/** What a scheduler does with a due schedule at `nowMs`; null when it is not due. */
export interface FirePlan {
  readonly slotMs: number;
  /** False: the slot (and `missedSlots - 1` after it) is recorded as skipped, nothing runs. */
  readonly fire: boolean;
  /**
   * A fire: earlier slots that were not run on their own. A skip: how many slots were skipped,
   * `slotMs` the first of them.
   */
  readonly missedSlots: number;
  readonly nextMs: number | null;
  readonly lateMs: number;
}

/**
 * A slot up to `graceMs` late is on time and fires. Beyond that it is a misfire (no scheduler
 * ran then): `run_once` fires once, for the latest slot that passed, and goes on from there;
 * `skip` records the passed slots as skipped and waits for the next one (firing the latest if
 * that one is itself on time).
 */
export function planFire(
  schedule: Pick<ScheduleRecord, 'pausedAt' | 'nextFireAt' | 'misfire'>,
  timing: ScheduleTiming,
  nowMs: number,
  graceMs: number,
): FirePlan | null {
  if (schedule.pausedAt !== null || schedule.nextFireAt === null) return null;
  const dueMs = Date.parse(schedule.nextFireAt);
  if (dueMs > nowMs) return null;
  // On time only while at most the next slot has passed too (a tick may come up to a period
  // late, with the shortest period one minute and the longest tick too): with a grace several
  // periods long (an hour's grace, a minute's interval), a downtime within the grace would
  // otherwise fire every slot it passed, one by one, whatever the misfire policy.
  const afterDue = nextSlotAfter(timing, dueMs);
  const secondAfterDue = afterDue === null ? null : nextSlotAfter(timing, afterDue);
  if (nowMs - dueMs <= graceMs && (secondAfterDue === null || secondAfterDue > nowMs)) {
    return { slotMs: dueMs, fire: true, missedSlots: 0, nextMs: afterDue, lateMs: nowMs - dueMs };
  }
  const { latestMs, count } = slotsThrough(timing, dueMs, nowMs);
  const afterLatest = nextSlotAfter(timing, latestMs);
  switch (schedule.misfire) {
    case 'run_once':
      return {
        slotMs: latestMs,
        fire: true,
        missedSlots: count - 1,
        nextMs: afterLatest,
        lateMs: nowMs - latestMs,
      };
    case 'skip':
      return nowMs - latestMs <= graceMs
        ? {
            slotMs: dueMs,
            fire: false,
            missedSlots: count - 1,
            nextMs: latestMs,
            lateMs: nowMs - dueMs,
          }
        : {
            slotMs: dueMs,
            fire: false,
            missedSlots: count,
            nextMs: afterLatest,
            lateMs: nowMs - dueMs,
          };
    default:
      return assertNever(schedule.misfire);
  }
}
