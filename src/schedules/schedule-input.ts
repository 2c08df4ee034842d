import { z } from 'zod';
import { AasError, IdPrefix, isValidId } from '../kernel/index.js';
import { JobSpecSchema } from '../runner/index.js';
import { MISFIRE_POLICIES } from '../store/index.js';
import { LAST_INSTANT_MS, MAX_INTERVAL_SEC, MIN_INTERVAL_SEC } from './schedule-timing.js';

/**
 * What a caller sends to create or change a schedule. The API validates bodies with these
 * schemas (and documents them from the same objects); the service validates again with them, so
 * the CLI working on a local database refuses exactly what the server refuses.
 */

/** Like a token name: safe in a URL, a table and a shell, and never an id. */
export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const ScheduleNameSchema = z
  .string()
  .regex(SCHEDULE_NAME_PATTERN, 'use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit')
  .refine((name) => !isValidId(name, IdPrefix.schedule), 'a name must not look like a schedule id')
  .describe('unique; the schedule can be named by it wherever an id is accepted');

/**
 * Fire times are kept as ISO text in UTC and compared as text (what is due is
 * `next_fire_at <= now`); past year 9999 (`+010000-…`, LAST_INSTANT_MS) or before year 0
 * (`-000001-…`, an offset can take 0000-01-01 there) the text no longer sorts by time, and such
 * a schedule would look due on every tick without ever firing.
 */
const FIRST_INSTANT_MS = Date.parse('0000-01-01T00:00:00.000Z');

const instant = z.iso
  .datetime({ offset: true, error: 'must be an ISO-8601 time with Z or an offset' })
  .refine(
    (value) => {
      const ms = Date.parse(value);
      return ms >= FIRST_INSTANT_MS && ms <= LAST_INSTANT_MS;
    },
    { error: 'must fall between years 0000 and 9999 in UTC' },
  )
  .describe('ISO-8601 with `Z` or an offset, e.g. 2026-05-01T09:00:00+02:00');

export const ScheduleTimingInputSchema = z
  .discriminatedUnion('kind', [
    z
      .object({ kind: z.literal('once'), at: instant.describe('the one slot; in the future') })
      .strict(),
    z
      .object({
        kind: z.literal('interval'),
        everySec: z
          .number()
          .int()
          .min(MIN_INTERVAL_SEC, `an interval is at least ${MIN_INTERVAL_SEC} seconds`)
          .max(MAX_INTERVAL_SEC, 'an interval is at most a year')
          .describe(`seconds between slots, ${MIN_INTERVAL_SEC} to ${MAX_INTERVAL_SEC}`),
        startAt: instant
          .optional()
          .describe('the first slot (later ones follow every everySec); default now + everySec'),
      })
      .strict(),
    z
      .object({
        kind: z.literal('cron'),
        cron: z
          .string()
          .min(1)
          .max(200)
          .describe('five fields: minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"'),
        timezone: z
          .string()
          .min(1)
          .max(64)
          .default('UTC')
          .describe('IANA time zone the pattern is read in, e.g. Europe/Berlin; default UTC'),
      })
      .strict(),
  ])
  .describe('When the schedule fires');
export type ScheduleTimingInput = z.infer<typeof ScheduleTimingInputSchema>;

const misfire = z
  .enum(MISFIRE_POLICIES)
  .describe(
    'slots missed while no scheduler ran: run_once fires once for the latest of them, skip lets them pass',
  );

export const CreateScheduleBodySchema = z
  .object({
    name: ScheduleNameSchema,
    timing: ScheduleTimingInputSchema,
    misfire: misfire.default('run_once'),
    paused: z.boolean().default(false).describe('create it paused (it fires once resumed)'),
    job: JobSpecSchema.describe('the JobSpec every fire submits, requested by its author'),
  })
  .strict();

export const UpdateScheduleBodySchema = z
  .object({
    name: ScheduleNameSchema.optional(),
    timing: ScheduleTimingInputSchema.optional().describe(
      'replaces the timing; the next fire is computed again from now',
    ),
    misfire: misfire.optional(),
    job: JobSpecSchema.optional().describe('replaces the job template'),
    expectedVersion: z
      .number()
      .int()
      .min(1)
      // A version is a 32-bit integer in the database: a larger one can only be a mistake.
      .max(2 ** 31 - 1, 'a schedule version is at most 2147483647')
      .optional()
      .describe(
        'change only if the schedule is still at this version (else 409 CONFLICT): what a client that read the schedule, changed it and writes it back sends',
      ),
  })
  .strict();

/** The same shapes with the job left to the runner's parser (JOB_INVALID naming the field). */
const CreateInput = CreateScheduleBodySchema.extend({ job: z.unknown() });
const UpdateInput = UpdateScheduleBodySchema.extend({ job: z.unknown().optional() });
export type CreateScheduleInput = z.infer<typeof CreateInput>;
export type UpdateScheduleInput = z.infer<typeof UpdateInput>;

function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  const unknownKeys =
    issue?.code === 'unrecognized_keys' && !issue.keys.every((key) => issue.message.includes(key))
      ? ` ${issue.keys.join(', ')}`
      : '';
  throw new AasError('INVALID_ARGUMENT', `${issue?.message ?? 'invalid schedule'}${unknownKeys}`, {
    field: path === '' ? '(schedule)' : path,
  });
}

export function parseCreateInput(value: unknown): CreateScheduleInput {
  return parseWith(CreateInput, value);
}

export function parseUpdateInput(value: unknown): UpdateScheduleInput {
  return parseWith(UpdateInput, value);
}
