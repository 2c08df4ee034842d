import type { Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema, ScheduleFireRow, ScheduleRow } from './database-schema.js';
import {
  FIRE_OUTCOMES,
  FIRE_TRIGGERS,
  type FireOutcome,
  type FireScheduleResult,
  type FireTrigger,
  MISFIRE_POLICIES,
  type MisfirePolicy,
  type NewEvent,
  type NewRun,
  type NewSchedule,
  type NewSession,
  SCHEDULE_KINDS,
  type ScheduleChanges,
  type ScheduleFireRecord,
  type ScheduleKind,
  type ScheduleRecord,
  type StoredEvent,
} from './records.js';
import { parseJsonColumn } from './row-mappers.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';

/** PostgreSQL's `integer`: an interval in seconds must fit both dialects alike. */
const INT32_MAX = 2 ** 31 - 1;

/** A session with its run, as `createSession` takes it. */
export interface NewSessionWithRun {
  readonly session: NewSession;
  readonly run: NewRun;
  readonly events: readonly NewEvent[];
}

export interface FireScheduleInput {
  readonly scheduleId: string;
  /** The schedule must still be at this version (what the caller read), else `stale`. */
  readonly expectedVersion: number;
  readonly trigger: FireTrigger;
  /** ISO-8601 UTC. With the schedule and trigger, the key a slot fires under at most once. */
  readonly slotAt: string;
  readonly missedSlots: number;
  /**
   * The schedule's next slot after this fire. Absent: unchanged, and the version is not bumped
   * (a manual fire does not move the schedule).
   */
  readonly advance?: { readonly nextFireAt: string | null };
  /** The session and run to create; absent = the slot is recorded as `skipped`. */
  readonly create?: NewSessionWithRun;
  readonly recordedAt: string;
  readonly recordedBy: string;
}

function parseOneOf<T extends string>(allowed: readonly T[], value: string, column: string): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) {
    throw new AasError('INTERNAL', `column ${column} holds unknown value "${value}"`, {
      field: column,
    });
  }
  return found;
}

export function scheduleFromRow(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    name: row.name,
    kind: parseOneOf<ScheduleKind>(SCHEDULE_KINDS, row.kind, 'schedules.kind'),
    at: row.at,
    // PostgreSQL returns integers as numbers; a driver that returned text would still parse.
    everySec: row.every_sec === null ? null : Number(row.every_sec),
    cron: row.cron,
    timezone: row.timezone,
    misfire: parseOneOf<MisfirePolicy>(MISFIRE_POLICIES, row.misfire, 'schedules.misfire'),
    pausedAt: row.paused_at,
    jobSpec: parseJsonColumn(row.job_spec, 'schedules.job_spec'),
    // Empty when a replica older than migration 0011 created or changed the row meanwhile (a
    // rolling upgrade): its runs then stay the creator's, as they were before.
    jobSetBy: row.job_set_by === '' ? row.created_by : row.job_set_by,
    nextFireAt: row.next_fire_at,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
    version: Number(row.version),
  };
}

export function scheduleFireFromRow(row: ScheduleFireRow): ScheduleFireRecord {
  return {
    scheduleId: row.schedule_id,
    trigger: parseOneOf<FireTrigger>(FIRE_TRIGGERS, row.trigger, 'schedule_fires.trigger'),
    slotAt: row.slot_at,
    outcome: parseOneOf<FireOutcome>(FIRE_OUTCOMES, row.outcome, 'schedule_fires.outcome'),
    missedSlots: Number(row.missed_slots),
    sessionId: row.session_id,
    runId: row.run_id,
    recordedAt: row.recorded_at,
    recordedBy: row.recorded_by,
  };
}

/** "an interval", "a cron", "a once". */
function article(kind: ScheduleKind): string {
  return kind === 'interval' ? 'an' : 'a';
}

function invalid(field: string, message: string): AasError {
  return new AasError('INVALID_ARGUMENT', message, { field });
}

/**
 * The store keeps only schedules it can read back and fire: a known kind and misfire policy,
 * and exactly the timing fields the kind uses. Whether a cron pattern or a time zone means
 * anything is the schedules context's to decide; the store has no calendar.
 */
export function checkScheduleTiming(timing: {
  readonly kind: string;
  readonly at: string | null;
  readonly everySec: number | null;
  readonly cron: string | null;
  readonly timezone: string | null;
}): void {
  if (!(SCHEDULE_KINDS as readonly string[]).includes(timing.kind)) {
    throw invalid('kind', `unknown schedule kind "${timing.kind}"`);
  }
  const kind = timing.kind as ScheduleKind;
  const uses = {
    at: kind !== 'cron',
    everySec: kind === 'interval',
    cron: kind === 'cron',
    timezone: kind === 'cron',
  } as const;
  for (const field of ['at', 'everySec', 'cron', 'timezone'] as const) {
    const present = timing[field] !== null;
    if (present !== uses[field]) {
      throw invalid(
        field,
        uses[field]
          ? `${article(kind)} ${kind} schedule needs ${field}`
          : `${article(kind)} ${kind} schedule has no ${field}`,
      );
    }
  }
  if (
    timing.everySec !== null &&
    (!Number.isSafeInteger(timing.everySec) || timing.everySec < 1 || timing.everySec > INT32_MAX)
  ) {
    throw invalid('everySec', `everySec must be an integer from 1 to ${INT32_MAX}`);
  }
}

export function checkNewSchedule(schedule: NewSchedule): void {
  checkScheduleTiming(schedule);
  if (!MISFIRE_POLICIES.includes(schedule.misfire)) {
    throw invalid('misfire', `unknown misfire policy "${schedule.misfire}"`);
  }
  if (schedule.name.length === 0) throw invalid('name', 'a schedule needs a name');
}

export function checkScheduleChanges(changes: ScheduleChanges): void {
  const timingFields = ['kind', 'at', 'everySec', 'cron', 'timezone'] as const;
  const given = timingFields.filter((field) => changes[field] !== undefined);
  if (given.length > 0) {
    if (given.length !== timingFields.length) {
      throw invalid('kind', 'a timing change gives kind, at, everySec, cron and timezone together');
    }
    checkScheduleTiming({
      kind: changes.kind ?? '',
      at: changes.at ?? null,
      everySec: changes.everySec ?? null,
      cron: changes.cron ?? null,
      timezone: changes.timezone ?? null,
    });
  }
  if (changes.misfire !== undefined && !MISFIRE_POLICIES.includes(changes.misfire)) {
    throw invalid('misfire', `unknown misfire policy "${changes.misfire}"`);
  }
  if (changes.name !== undefined && changes.name.length === 0) {
    throw invalid('name', 'a schedule needs a name');
  }
}

function nameTaken(name: string): AasError {
  return new AasError('NAME_TAKEN', `a schedule named "${name}" already exists`, {
    field: 'name',
    name,
    hint: 'choose another name, or change the existing schedule',
  });
}

function scheduleNotFound(idOrName: string): AasError {
  return new AasError('NOT_FOUND', `no schedule with id or name "${idOrName}"`, {
    schedule: idOrName,
    hint: 'see `aas schedules list`',
  });
}

export function* findScheduleNamed(
  db: Kysely<DatabaseSchema>,
  name: string,
): SqlOperation<{ id: string } | undefined> {
  const [row] = yield* rowsOf(
    db.selectFrom('schedules').select('id').where('name', '=', name).compile(),
  );
  return row;
}

export function* createSchedule(
  db: Kysely<DatabaseSchema>,
  schedule: NewSchedule,
): SqlOperation<ScheduleRecord> {
  if ((yield* findScheduleNamed(db, schedule.name)) !== undefined) throw nameTaken(schedule.name);
  const row: ScheduleRow = {
    id: schedule.id,
    name: schedule.name,
    kind: schedule.kind,
    at: schedule.at,
    every_sec: schedule.everySec,
    cron: schedule.cron,
    timezone: schedule.timezone,
    misfire: schedule.misfire,
    paused_at: schedule.pausedAt,
    job_spec: JSON.stringify(schedule.jobSpec) ?? 'null',
    job_set_by: schedule.createdBy,
    next_fire_at: schedule.nextFireAt,
    created_by: schedule.createdBy,
    created_at: schedule.createdAt,
    updated_by: schedule.createdBy,
    updated_at: schedule.createdAt,
    version: 1,
  };
  yield* rowsOf(db.insertInto('schedules').values(row).compile());
  return scheduleFromRow(row);
}

/** By id first, then by name: an id is never mistaken for another schedule's name. */
export function* readSchedule(
  db: Kysely<DatabaseSchema>,
  idOrName: string,
): SqlOperation<ScheduleRecord | null> {
  for (const column of ['id', 'name'] as const) {
    const [row] = yield* rowsOf(
      db.selectFrom('schedules').selectAll().where(column, '=', idOrName).compile(),
    );
    if (row !== undefined) return scheduleFromRow(row);
  }
  return null;
}

export function* updateSchedule(
  db: Kysely<DatabaseSchema>,
  input: {
    readonly id: string;
    readonly expectedVersion?: number;
    readonly changes: ScheduleChanges;
    readonly updatedAt: string;
    readonly updatedBy: string;
  },
): SqlOperation<ScheduleRecord> {
  const { id, changes } = input;
  if (changes.name !== undefined) {
    const holder = yield* findScheduleNamed(db, changes.name);
    if (holder !== undefined && holder.id !== id) throw nameTaken(changes.name);
  }
  const set: Partial<ScheduleRow> = {
    updated_at: input.updatedAt,
    updated_by: input.updatedBy,
    ...(changes.name === undefined ? {} : { name: changes.name }),
    ...(changes.kind === undefined ? {} : { kind: changes.kind }),
    ...(changes.at === undefined ? {} : { at: changes.at }),
    ...(changes.everySec === undefined ? {} : { every_sec: changes.everySec }),
    ...(changes.cron === undefined ? {} : { cron: changes.cron }),
    ...(changes.timezone === undefined ? {} : { timezone: changes.timezone }),
    ...(changes.misfire === undefined ? {} : { misfire: changes.misfire }),
    ...(changes.pausedAt === undefined ? {} : { paused_at: changes.pausedAt }),
    ...(changes.jobSpec === undefined
      ? {}
      : { job_spec: JSON.stringify(changes.jobSpec) ?? 'null', job_set_by: input.updatedBy }),
    ...(changes.nextFireAt === undefined ? {} : { next_fire_at: changes.nextFireAt }),
  };
  const [row] = yield* rowsOf(
    db
      .updateTable('schedules')
      .set((eb) => ({ ...set, version: eb('version', '+', 1) }))
      .where('id', '=', id)
      .$if(input.expectedVersion !== undefined, (qb) =>
        qb.where('version', '=', input.expectedVersion ?? 0),
      )
      .returningAll()
      .compile(),
  );
  if (row !== undefined) return scheduleFromRow(row);
  const current = yield* readSchedule(db, id);
  if (current === null) throw scheduleNotFound(id);
  throw new AasError(
    'CONFLICT',
    `schedule ${current.name} changed meanwhile (version ${current.version}, expected ${input.expectedVersion})`,
    { scheduleId: id, version: current.version, hint: 'read it again and retry' },
  );
}

/**
 * Removes the schedule and its fire records; the sessions it created stay (they are history).
 * The schedule row is locked first, by the same version bump a fire makes: a fire in flight
 * (PostgreSQL, READ COMMITTED) has it locked and has added its fire row, so the delete waits for
 * it, then removes that row too; deleting the fires first would miss it, and the schedule's
 * delete would fail on the foreign key. A fire that comes after finds the row gone (`stale`).
 */
export function* deleteSchedule(
  db: Kysely<DatabaseSchema>,
  id: string,
): SqlOperation<ScheduleRecord> {
  const locked = yield* rowsOf(
    db
      .updateTable('schedules')
      .set((eb) => ({ version: eb('version', '+', 1) }))
      .where('id', '=', id)
      .returning('id')
      .compile(),
  );
  if (locked.length === 0) throw scheduleNotFound(id);
  yield* rowsOf(db.deleteFrom('schedule_fires').where('schedule_id', '=', id).compile());
  const [row] = yield* rowsOf(
    db.deleteFrom('schedules').where('id', '=', id).returningAll().compile(),
  );
  if (row === undefined) throw scheduleNotFound(id);
  return scheduleFromRow(row);
}

/**
 * One fire in one transaction. First the schedule row: compare-and-set on `version` (which takes
 * PostgreSQL's row lock, so a second replica firing the same slot waits here and then finds the
 * version moved: `stale`, nothing written). Then the fire row, whose key (schedule, trigger,
 * slot) refuses a slot fired before (`already_fired`: the advance is kept so the schedule moves
 * on, nothing else is written). Then the session and its run, through `createSession`.
 */
export function* fireSchedule(
  db: Kysely<DatabaseSchema>,
  input: FireScheduleInput,
  createSession: (create: NewSessionWithRun) => SqlOperation<StoredEvent[]>,
): SqlOperation<FireScheduleResult> {
  const [row] = yield* rowsOf(
    db
      .updateTable('schedules')
      .set((eb) =>
        input.advance === undefined
          ? { version: eb.ref('version') }
          : { next_fire_at: input.advance.nextFireAt, version: eb('version', '+', 1) },
      )
      .where('id', '=', input.scheduleId)
      .where('version', '=', input.expectedVersion)
      .returningAll()
      .compile(),
  );
  if (row === undefined) {
    return { outcome: 'stale', schedule: yield* readSchedule(db, input.scheduleId) };
  }
  const schedule = scheduleFromRow(row);
  const fireRow: ScheduleFireRow = {
    schedule_id: input.scheduleId,
    trigger: input.trigger,
    slot_at: input.slotAt,
    outcome: input.create === undefined ? 'skipped' : 'fired',
    missed_slots: input.missedSlots,
    session_id: input.create?.session.id ?? null,
    run_id: input.create?.run.id ?? null,
    recorded_at: input.recordedAt,
    recorded_by: input.recordedBy,
  };
  const inserted = yield* rowsOf(
    db
      .insertInto('schedule_fires')
      .values(fireRow)
      .onConflict((oc) => oc.columns(['schedule_id', 'trigger', 'slot_at']).doNothing())
      .returning('schedule_id')
      .compile(),
  );
  if (inserted.length === 0) return { outcome: 'already_fired', schedule };
  const events = input.create === undefined ? [] : yield* createSession(input.create);
  const fire = scheduleFireFromRow(fireRow);
  return { outcome: fire.outcome, schedule, fire, events };
}
