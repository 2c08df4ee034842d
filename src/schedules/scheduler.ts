import { ExitCode, exitCodeFor, isAasError, type Logger, normaliseError } from '../kernel/index.js';
import type { ScheduleRecord } from '../store/index.js';
import { fireNow, type ScheduleDeps, type TriggeredFire } from './schedule-service.js';
import { planFire, timingOf } from './schedule-timing.js';

export interface SchedulerOptions {
  /** Who fires: recorded as the actor of the fires and their sessions' first events. */
  readonly actor: string;
  /** A slot this late (or less) is on time; later is a misfire, handled by the schedule's policy. */
  readonly misfireGraceMs: number;
  /** Due schedules read per tick. */
  readonly batchSize?: number;
  /** Called after a tick that queued runs (to wake idle workers). */
  readonly onFired?: (fires: readonly TriggeredFire[]) => void;
}

export interface TickReport {
  readonly fired: readonly TriggeredFire[];
  readonly skipped: readonly { readonly scheduleId: string; readonly slotAt: string }[];
  /** Fires another replica (or an update) got to first: nothing was written for them here. */
  readonly lost: number;
}

/** Slots one schedule may fire in one tick (a schedule on time fires each slot once anyway). */
const MAX_FIRES_PER_SCHEDULE_PER_TICK = 10;
const DEFAULT_BATCH = 100;

/**
 * Fires due schedules. Any number of schedulers, in one process or on replicas sharing the
 * database, may tick at once: each fire is a compare-and-set on the schedule's version plus a
 * fire row keyed by its slot (see `Store.fireSchedule`), so every slot fires exactly once and
 * the losers learn it from the store, not from timing. The clock is injected: `tick()` is the
 * whole loop body, and tests call it directly.
 */
export class Scheduler {
  readonly #deps: ScheduleDeps & { readonly log: Logger };
  readonly #options: SchedulerOptions;
  #timer: ReturnType<typeof setInterval> | null = null;
  #ticking: Promise<TickReport> | null = null;

  constructor(deps: ScheduleDeps & { readonly log: Logger }, options: SchedulerOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  /** One pass over the due schedules; never two at once in one scheduler. */
  tick(): Promise<TickReport> {
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  /** Ticks every `tickMs` until `stop()`; a failing tick is logged and the next one tries again. */
  start(tickMs: number): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      this.tick().catch((thrown: unknown) =>
        this.#deps.log.error({ err: normaliseError(thrown).message }, 'scheduler tick failed'),
      );
    }, tickMs);
    this.#timer.unref();
  }

  /** Stops ticking and waits for a tick in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#ticking?.catch(() => undefined);
  }

  async #tick(): Promise<TickReport> {
    const report: {
      fired: TriggeredFire[];
      skipped: TickReport['skipped'][number][];
      lost: number;
    } = { fired: [], skipped: [], lost: 0 };
    const nowIso = this.#deps.clock.nowIso();
    const due = await this.#deps.store.dueSchedules(
      nowIso,
      this.#options.batchSize ?? DEFAULT_BATCH,
    );
    for (const schedule of due) {
      try {
        await this.#catchUp(schedule, report);
      } catch (thrown) {
        // One broken schedule must not keep the others from firing.
        this.#deps.log.error(
          { scheduleId: schedule.id, err: normaliseError(thrown).message },
          'schedule fire failed',
        );
      }
    }
    if (report.fired.length > 0) this.#options.onFired?.(report.fired);
    return report;
  }

  async #catchUp(
    first: ScheduleRecord,
    report: { fired: TriggeredFire[]; skipped: TickReport['skipped'][number][]; lost: number },
  ): Promise<void> {
    let schedule = first;
    for (let fires = 0; fires < MAX_FIRES_PER_SCHEDULE_PER_TICK; fires += 1) {
      const nowMs = this.#deps.clock.nowMs();
      let plan: ReturnType<typeof planFire>;
      try {
        plan = planFire(schedule, timingOf(schedule), nowMs, this.#options.misfireGraceMs);
      } catch (thrown) {
        // Computed from the stored row alone: what fails now fails on every tick.
        await this.#pauseBroken(schedule, normaliseError(thrown).message, 'its timing');
        return;
      }
      if (plan === null) return;
      let result: Awaited<ReturnType<typeof fireNow>>;
      try {
        result = await fireNow(this.#deps, schedule, {
          trigger: 'schedule',
          slotMs: plan.slotMs,
          nowMs,
          missedSlots: plan.missedSlots,
          actor: this.#options.actor,
          advance: { nextMs: plan.nextMs },
          skip: !plan.fire,
        });
      } catch (thrown) {
        // Refused input (the template, or what the store makes of it) is refused again on
        // every tick; anything else (the database away) may pass, and is tried next tick.
        if (isAasError(thrown) && exitCodeFor(thrown.code) === ExitCode.badInput) {
          await this.#pauseBroken(schedule, thrown.message, 'its job template');
          return;
        }
        throw thrown;
      }
      switch (result.outcome) {
        case 'fired':
          report.fired.push(result.fire);
          this.#deps.log.info(
            { scheduleId: schedule.id, slotAt: result.fire.slotAt, runId: result.fire.runId },
            'schedule fired',
          );
          break;
        case 'skipped':
          report.skipped.push({
            scheduleId: schedule.id,
            slotAt: new Date(plan.slotMs).toISOString(),
          });
          this.#deps.log.warn(
            { scheduleId: schedule.id, slots: plan.missedSlots },
            'schedule skipped missed slots',
          );
          break;
        case 'already_fired':
          break;
        case 'stale':
          // Another scheduler fired it, or someone changed it: the next tick reads it afresh.
          report.lost += 1;
          return;
      }
      schedule = result.schedule;
    }
  }

  /**
   * A stored template or timing that no longer validates (written by another version) cannot
   * fire: the schedule is paused, loudly, rather than retried every tick, where it would also
   * keep its place at the head of every tick's batch, or silently dropped.
   */
  async #pauseBroken(schedule: ScheduleRecord, reason: string, what: string): Promise<void> {
    const at = this.#deps.clock.nowIso();
    this.#deps.log.error(
      { scheduleId: schedule.id, reason },
      `schedule paused: ${what} is invalid`,
    );
    try {
      await this.#deps.store.updateSchedule({
        id: schedule.id,
        expectedVersion: schedule.version,
        changes: { pausedAt: at },
        updatedAt: at,
        updatedBy: this.#options.actor,
      });
    } catch (thrown) {
      if (!isAasError(thrown) || thrown.code !== 'CONFLICT') throw thrown;
    }
  }
}
