import { AasError, assertNever, type Clock, IdPrefix, isAasError, newId } from '../kernel/index.js';
import {
  checkTargetBranch,
  type JobSpec,
  newSubmission,
  parseJobSpec,
  withTargetBranch,
} from '../runner/index.js';
import { type EventBus, sessionEvent } from '../sessions/index.js';
import type {
  FireTrigger,
  MisfirePolicy,
  ScheduleChanges,
  ScheduleFireRecord,
  ScheduleRecord,
  Store,
} from '../store/index.js';
import { parseCreateInput, parseUpdateInput, type ScheduleTimingInput } from './schedule-input.js';
import {
  canonicalTimezone,
  checkCronPattern,
  firstSlotOfNewTiming,
  planFire,
  type ScheduleTiming,
  timingOf,
  upcomingSlots,
} from './schedule-timing.js';

export interface ScheduleDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly bus: EventBus;
}

export interface ScheduleServiceOptions {
  /**
   * Checks a job template as a submission would be checked on this host (the repository exists,
   * the agents are registered), so a typo is refused when the schedule is made, not at 3 a.m.
   */
  readonly checkJob?: (job: JobSpec) => Promise<void>;
  /** The schedulers' AAS_SCHEDULER_MISFIRE_GRACE_MS, so a preview of an overdue slot agrees. */
  readonly misfireGraceMs?: number;
}

export type ScheduleTimingView =
  | { readonly kind: 'once'; readonly at: string }
  | { readonly kind: 'interval'; readonly everySec: number; readonly startAt: string }
  | { readonly kind: 'cron'; readonly cron: string; readonly timezone: string };

/** `finished`: no slot is left (a `once` that fired or was skipped). */
export type ScheduleState = 'active' | 'paused' | 'finished';

/** A schedule as the API and the CLI show it. */
export interface ScheduleView {
  readonly id: string;
  readonly name: string;
  readonly timing: ScheduleTimingView;
  readonly misfire: MisfirePolicy;
  readonly state: ScheduleState;
  readonly pausedAt: string | null;
  readonly nextFireAt: string | null;
  readonly job: unknown;
  /** Who last set the job: the requester of every run the schedule fires. */
  readonly jobSetBy: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedBy: string;
  readonly updatedAt: string;
  readonly version: number;
}

export interface TriggeredFire {
  readonly scheduleId: string;
  readonly sessionId: string;
  readonly runId: string;
  readonly slotAt: string;
}

/** How often a manual trigger re-reads a schedule that the scheduler changed meanwhile. */
const TRIGGER_ATTEMPTS = 5;
/** Reads and writes of one change, each lost to another change of the schedule meanwhile. */
const UPDATE_ATTEMPTS = 5;
const MAX_PREVIEW = 100;

export function scheduleView(schedule: ScheduleRecord): ScheduleView {
  const timing = timingOf(schedule);
  return {
    id: schedule.id,
    name: schedule.name,
    timing: timingView(timing),
    misfire: schedule.misfire,
    state:
      schedule.pausedAt !== null ? 'paused' : schedule.nextFireAt === null ? 'finished' : 'active',
    pausedAt: schedule.pausedAt,
    nextFireAt: schedule.nextFireAt,
    job: schedule.jobSpec,
    jobSetBy: schedule.jobSetBy,
    createdBy: schedule.createdBy,
    createdAt: schedule.createdAt,
    updatedBy: schedule.updatedBy,
    updatedAt: schedule.updatedAt,
    version: schedule.version,
  };
}

function timingView(timing: ScheduleTiming): ScheduleTimingView {
  switch (timing.kind) {
    case 'once':
      return { kind: 'once', at: new Date(timing.atMs).toISOString() };
    case 'interval':
      return {
        kind: 'interval',
        everySec: timing.everySec,
        startAt: new Date(timing.startMs).toISOString(),
      };
    case 'cron':
      return { kind: 'cron', cron: timing.cron, timezone: timing.timezone };
    default:
      return assertNever(timing);
  }
}

/** The stored columns of a timing. */
function timingColumns(
  timing: ScheduleTiming,
): Required<Pick<ScheduleChanges, 'kind' | 'at' | 'everySec' | 'cron' | 'timezone'>> {
  switch (timing.kind) {
    case 'once':
      return {
        kind: 'once',
        at: new Date(timing.atMs).toISOString(),
        everySec: null,
        cron: null,
        timezone: null,
      };
    case 'interval':
      return {
        kind: 'interval',
        at: new Date(timing.startMs).toISOString(),
        everySec: timing.everySec,
        cron: null,
        timezone: null,
      };
    case 'cron':
      return {
        kind: 'cron',
        at: null,
        everySec: null,
        cron: timing.cron,
        timezone: timing.timezone,
      };
    default:
      return assertNever(timing);
  }
}

/** The job template, parsed as a submission is; its errors name `job.<field>`. */
/**
 * A stored job template as a fire submits it: parsed, and held to what a submission is held to
 * that the schema lets stored jobs keep (a target branch git would not name so), so a fire
 * refuses it as any submission would, and the scheduler pauses the schedule.
 */
function parseJobTemplate(value: unknown): JobSpec {
  try {
    const job = parseJobSpec(value);
    checkTargetBranch(job);
    return job;
  } catch (thrown) {
    if (isAasError(thrown) && typeof thrown.details.field === 'string') {
      const inner = thrown.details.field === '(job)' ? '' : `.${thrown.details.field}`;
      throw new AasError(
        thrown.code,
        thrown.message,
        { ...thrown.details, field: `job${inner}` },
        { cause: thrown },
      );
    }
    throw thrown;
  }
}

/**
 * Creating, changing and firing schedules on demand; the `Scheduler` fires them on time. Every
 * change goes through the store's schedule operations; every fire through `fireSchedule`, so a
 * slot creates one session however many replicas or people ask.
 */
export class ScheduleService {
  readonly #deps: ScheduleDeps;
  readonly #options: ScheduleServiceOptions;

  constructor(deps: ScheduleDeps, options: ScheduleServiceOptions = {}) {
    this.#deps = deps;
    this.#options = options;
  }

  async create(body: unknown, createdBy: string): Promise<ScheduleView> {
    const input = parseCreateInput(body);
    const job = await this.#checkJob(input.job);
    const nowMs = this.#deps.clock.nowMs();
    const timing = this.#timing(input.timing, nowMs);
    const nextFireMs = this.#firstFire(timing, nowMs);
    const createdAt = new Date(nowMs).toISOString();
    const record = await this.#deps.store.createSchedule({
      id: newId(IdPrefix.schedule, nowMs),
      name: input.name,
      ...timingColumns(timing),
      misfire: input.misfire,
      pausedAt: input.paused ? createdAt : null,
      jobSpec: job,
      nextFireAt: new Date(nextFireMs).toISOString(),
      createdBy,
      createdAt,
    });
    return scheduleView(record);
  }

  /**
   * With `expectedVersion` (what a read-modify-write sends, as `aas schedules update` does when
   * it merges job flags into the job it read), a schedule changed since answers CONFLICT.
   */
  async update(idOrName: string, body: unknown, updatedBy: string): Promise<ScheduleView> {
    // A schedule that does not exist is NOT_FOUND whatever the body says: "nothing to change"
    // about a schedule there is not would send the caller fixing the wrong thing.
    await this.#require(idOrName);
    const { expectedVersion, ...input } = parseUpdateInput(body);
    if (Object.values(input).every((value) => value === undefined)) {
      throw new AasError('INVALID_ARGUMENT', 'nothing to change', {
        field: '(schedule)',
        hint: 'give name, timing, misfire or job',
      });
    }
    const jobSpec = input.job === undefined ? undefined : await this.#checkJob(input.job);
    return this.#changeAtVersion(
      idOrName,
      updatedBy,
      (_current, nowMs) => {
        let changes: ScheduleChanges = {
          ...(input.name === undefined ? {} : { name: input.name }),
          ...(input.misfire === undefined ? {} : { misfire: input.misfire }),
          ...(jobSpec === undefined ? {} : { jobSpec }),
        };
        if (input.timing !== undefined) {
          const timing = this.#timing(input.timing, nowMs);
          changes = {
            ...changes,
            ...timingColumns(timing),
            // New timing, new slots: none of them has passed, so none is missed.
            nextFireAt: new Date(this.#firstFire(timing, nowMs)).toISOString(),
          };
        }
        return changes;
      },
      expectedVersion,
    );
  }

  /**
   * Writes what `plan` makes of the schedule as read, only if no one changed it meanwhile (a
   * fire, a pause, another update): each change is computed from the version it replaces, so
   * a resume computing the next slot from the old timing cannot land after a new timing. A
   * lost race reads again, a few times. With `expectedVersion` the caller's own read counts,
   * and a change since answers CONFLICT. `plan` returning null: nothing to change.
   */
  async #changeAtVersion(
    idOrName: string,
    by: string,
    plan: (current: ScheduleRecord, nowMs: number) => ScheduleChanges | null,
    expectedVersion?: number,
  ): Promise<ScheduleView> {
    for (let attempt = 1; ; attempt += 1) {
      const current = await this.#require(idOrName);
      const nowMs = this.#deps.clock.nowMs();
      const changes = plan(current, nowMs);
      if (changes === null) return scheduleView(current);
      try {
        return scheduleView(
          await this.#deps.store.updateSchedule({
            id: current.id,
            expectedVersion: expectedVersion ?? current.version,
            changes,
            updatedAt: new Date(nowMs).toISOString(),
            updatedBy: by,
          }),
        );
      } catch (thrown) {
        const changedMeanwhile = isAasError(thrown) && thrown.code === 'CONFLICT';
        if (!changedMeanwhile || expectedVersion !== undefined || attempt >= UPDATE_ATTEMPTS) {
          throw thrown;
        }
      }
    }
  }

  async remove(idOrName: string): Promise<ScheduleView> {
    const current = await this.#require(idOrName);
    return scheduleView(await this.#deps.store.deleteSchedule(current.id));
  }

  async get(
    idOrName: string,
    fireLimit = 20,
  ): Promise<{
    schedule: ScheduleView;
    fires: ScheduleFireRecord[];
  }> {
    const schedule = await this.#require(idOrName);
    const fires = await this.#deps.store.listScheduleFires(schedule.id, fireLimit);
    return { schedule: scheduleView(schedule), fires };
  }

  async list(): Promise<ScheduleView[]> {
    return (await this.#deps.store.listSchedules()).map(scheduleView);
  }

  /** Idempotent: pausing a paused schedule changes nothing. */
  async pause(idOrName: string, by: string): Promise<ScheduleView> {
    return this.#changeAtVersion(idOrName, by, (current, nowMs) => {
      if (current.pausedAt !== null) return null;
      if (current.nextFireAt === null) {
        // Paused, it would be listed as paused and look as if it had slots left.
        throw new AasError(
          'INVALID_ARGUMENT',
          `schedule ${current.name} is finished (no slot left): there is nothing to pause`,
          {
            field: 'id',
            hint: '`update --at`, `--every` or `--cron` gives it new slots; `delete` removes it',
          },
        );
      }
      return { pausedAt: new Date(nowMs).toISOString() };
    });
  }

  /**
   * Slots that passed while paused were paused, not missed: the next fire is the first slot
   * after now (a `once` whose time passed is then finished). Idempotent.
   */
  async resume(idOrName: string, by: string): Promise<ScheduleView> {
    return this.#changeAtVersion(idOrName, by, (current, nowMs) => {
      if (current.pausedAt === null) return null;
      const next = firstSlotOfNewTiming(timingOf(current), nowMs);
      return { pausedAt: null, nextFireAt: next === null ? null : new Date(next).toISOString() };
    });
  }

  /**
   * Fires now, whatever the schedule's state (paused and finished included), without moving
   * its next slot. The run is requested by whoever last set the job, triggered by `by`.
   */
  async trigger(idOrName: string, by: string): Promise<TriggeredFire> {
    for (let attempt = 1; ; attempt += 1) {
      const current = await this.#require(idOrName);
      const nowMs = this.#deps.clock.nowMs();
      const fired = await fireNow(this.#deps, current, {
        trigger: 'manual',
        slotMs: nowMs,
        nowMs,
        missedSlots: 0,
        actor: by,
      });
      if (fired.outcome === 'fired') return fired.fire;
      if (fired.outcome === 'already_fired') {
        throw new AasError('CONFLICT', `schedule ${current.name} was triggered at this instant`, {
          scheduleId: current.id,
          hint: 'trigger it again',
        });
      }
      // The scheduler (or an update) moved the schedule between the read and the fire.
      if (attempt >= TRIGGER_ATTEMPTS) {
        throw new AasError('CONFLICT', `schedule ${current.name} keeps changing; try again`, {
          scheduleId: current.id,
        });
      }
    }
  }

  /** The next `count` fire times: from the next fire on, or (paused) from now on. */
  async preview(
    idOrName: string,
    count: number,
  ): Promise<{ scheduleId: string; name: string; times: string[] }> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_PREVIEW) {
      throw new AasError('INVALID_ARGUMENT', `count must be 1 to ${MAX_PREVIEW}`, {
        field: 'count',
      });
    }
    const current = await this.#require(idOrName);
    const timing = timingOf(current);
    const nowMs = this.#deps.clock.nowMs();
    const times = ((): number[] => {
      // Paused: the slots a resume now would give (it passes over a slot at this very instant).
      if (current.pausedAt !== null) {
        const fromMs = firstSlotOfNewTiming(timing, nowMs);
        return fromMs === null ? [] : upcomingSlots(timing, fromMs, count);
      }
      if (current.nextFireAt === null) return [];
      // Overdue (no scheduler ran since): what the next tick will do under the misfire policy,
      // one fire for the latest slot with run_once, none for the passed slots with skip.
      const plan = planFire(current, timing, nowMs, this.#options.misfireGraceMs ?? 0);
      if (plan === null) return upcomingSlots(timing, Date.parse(current.nextFireAt), count);
      const after = plan.nextMs === null ? [] : upcomingSlots(timing, plan.nextMs, count);
      return plan.fire ? [plan.slotMs, ...after].slice(0, count) : after;
    })();
    return {
      scheduleId: current.id,
      name: current.name,
      times: times.map((ms) => new Date(ms).toISOString()),
    };
  }

  async #require(idOrName: string): Promise<ScheduleRecord> {
    const found = await this.#deps.store.getSchedule(idOrName);
    if (found === null) {
      throw new AasError('NOT_FOUND', `no schedule with id or name "${idOrName}"`, {
        field: 'id',
        hint: 'see `aas schedules list`',
      });
    }
    return found;
  }

  async #checkJob(value: unknown): Promise<JobSpec> {
    const job = parseJobTemplate(value);
    try {
      await this.#options.checkJob?.(job);
    } catch (thrown) {
      if (isAasError(thrown) && typeof thrown.details.field === 'string') {
        throw new AasError(
          thrown.code,
          thrown.message,
          { ...thrown.details, field: `job.${thrown.details.field}` },
          { cause: thrown },
        );
      }
      throw thrown;
    }
    return job;
  }

  #timing(input: ScheduleTimingInput, nowMs: number): ScheduleTiming {
    switch (input.kind) {
      case 'once': {
        const atMs = Date.parse(input.at);
        if (atMs < nowMs) {
          throw new AasError('INVALID_ARGUMENT', `timing.at ${input.at} has passed`, {
            field: 'timing.at',
            hint: 'give a time in the future, or trigger a schedule to run now',
          });
        }
        return { kind: 'once', atMs };
      }
      case 'interval':
        return {
          kind: 'interval',
          everySec: input.everySec,
          startMs:
            input.startAt === undefined ? nowMs + input.everySec * 1000 : Date.parse(input.startAt),
        };
      case 'cron': {
        const timezone = canonicalTimezone(input.timezone, 'timing.timezone');
        const cron = input.cron.trim().replace(/\s+/g, ' ');
        checkCronPattern(cron, timezone, 'timing.cron');
        return { kind: 'cron', cron, timezone };
      }
      default:
        return assertNever(input);
    }
  }

  #firstFire(timing: ScheduleTiming, nowMs: number): number {
    const first = firstSlotOfNewTiming(timing, nowMs);
    if (first === null) {
      throw new AasError('INVALID_ARGUMENT', 'this timing never fires', {
        field: timing.kind === 'cron' ? 'timing.cron' : 'timing',
        hint: 'a cron pattern naming a day that does not exist (30 2 … for February 30) matches nothing',
      });
    }
    return first;
  }
}

/** The outcome of one attempt to fire a schedule. */
export type FireNowResult =
  | { readonly outcome: 'fired'; readonly fire: TriggeredFire; readonly schedule: ScheduleRecord }
  | { readonly outcome: 'skipped' | 'already_fired'; readonly schedule: ScheduleRecord }
  | { readonly outcome: 'stale'; readonly schedule: ScheduleRecord | null };

/**
 * Fires (or, with `skip`, records as skipped) one slot of `schedule` as read, through the
 * store's compare-and-set: the session, its queued run and `schedule.fired` are written with
 * the fire row in one transaction, then published.
 */
export async function fireNow(
  deps: ScheduleDeps,
  schedule: ScheduleRecord,
  fire: {
    readonly trigger: FireTrigger;
    readonly slotMs: number;
    readonly nowMs: number;
    readonly missedSlots: number;
    readonly actor: string;
    /** Scheduled fires move the schedule to its next slot; manual ones leave it. */
    readonly advance?: { readonly nextMs: number | null };
    /** False: record the slot as skipped, create nothing. */
    readonly skip?: boolean;
  },
): Promise<FireNowResult> {
  const slotAt = new Date(fire.slotMs).toISOString();
  const submission =
    fire.skip === true
      ? undefined
      : newSubmission(
          await withTargetBranch(parseJobTemplate(schedule.jobSpec)),
          schedule.jobSetBy,
          { nowMs: fire.nowMs, actor: fire.actor },
          {
            extraEvents: (runId) => [
              sessionEvent('schedule.fired', {
                scheduleId: schedule.id,
                scheduleName: schedule.name,
                runId,
                slotAt,
                trigger: fire.trigger,
                lateMs: Math.max(0, fire.nowMs - fire.slotMs),
                missedSlots: fire.missedSlots,
              }),
            ],
          },
        );
  const result = await deps.store.fireSchedule({
    scheduleId: schedule.id,
    expectedVersion: schedule.version,
    trigger: fire.trigger,
    slotAt,
    missedSlots: fire.missedSlots,
    ...(fire.advance === undefined
      ? {}
      : {
          advance: {
            nextFireAt:
              fire.advance.nextMs === null ? null : new Date(fire.advance.nextMs).toISOString(),
          },
        }),
    ...(submission === undefined ? {} : { create: submission.create }),
    recordedAt: new Date(fire.nowMs).toISOString(),
    recordedBy: fire.actor,
  });
  switch (result.outcome) {
    case 'fired':
      deps.bus.publish(result.events);
      return {
        outcome: 'fired',
        schedule: result.schedule,
        fire: {
          scheduleId: schedule.id,
          sessionId: submission?.sessionId ?? '',
          runId: submission?.runId ?? '',
          slotAt,
        },
      };
    case 'skipped':
    case 'already_fired':
      return { outcome: result.outcome, schedule: result.schedule };
    case 'stale':
      return { outcome: 'stale', schedule: result.schedule };
    default:
      return assertNever(result);
  }
}
