import { z } from 'zod';
import { AasError, IdPrefix, isValidId } from '../kernel/index.js';
import { type JobSpec, parseJobSpec } from '../runner/index.js';
import {
  CreateScheduleBodySchema,
  SCHEDULE_NAME_PATTERN,
  UpdateScheduleBodySchema,
} from '../schedules/index.js';
import { FIRE_OUTCOMES, FIRE_TRIGGERS, MISFIRE_POLICIES } from '../store/index.js';
import {
  API_PREFIX,
  type ApiApp,
  BEARER_SECURITY,
  identityOf,
  type RouteContext,
} from './api-app.js';
import { ErrorBodySchema, NoQuerySchema, SubmitWarningSchema, wholeNumber } from './api-schemas.js';
import { READ_ERRORS } from './route-errors.js';

const isoTime = z.string().describe('ISO-8601 UTC timestamp');

const ScheduleTimingSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('once'), at: isoTime }),
    z.object({
      kind: z.literal('interval'),
      everySec: z.number().int(),
      startAt: isoTime.describe('the first slot; later ones follow every everySec'),
    }),
    z.object({ kind: z.literal('cron'), cron: z.string(), timezone: z.string() }),
  ])
  .describe('When the schedule fires');

export const ScheduleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    timing: ScheduleTimingSchema,
    misfire: z.enum(MISFIRE_POLICIES),
    state: z
      .enum(['active', 'paused', 'finished'])
      .describe('finished: no slot is left (a once schedule that fired)'),
    pausedAt: isoTime.nullable(),
    nextFireAt: isoTime.nullable().describe('the next slot; while paused, where it stood'),
    job: z.unknown().describe('the JobSpec template each fire submits'),
    jobSetBy: z
      .string()
      .describe(
        'who last set the job (its creator, or whoever changed it since): the requester of every run the schedule fires',
      ),
    createdBy: z.string(),
    createdAt: isoTime,
    updatedBy: z.string(),
    updatedAt: isoTime,
    version: z.number().int(),
  })
  .describe('A schedule: a JobSpec template submitted at each slot');

/** A schedule just created or changed, with what its runs' requester should know. */
const ScheduleWrittenSchema = ScheduleSchema.extend({
  warnings: z
    .array(SubmitWarningSchema)
    .describe(
      "Empty, or what each fire's run will meet: no worker known to the server can claim it now; a pull request repository the operator does not list",
    ),
});

export const ScheduleFireSchema = z
  .object({
    scheduleId: z.string(),
    trigger: z.enum(FIRE_TRIGGERS),
    slotAt: isoTime.describe("the slot (a manual fire's is the instant it was asked for)"),
    outcome: z.enum(FIRE_OUTCOMES),
    missedSlots: z
      .number()
      .int()
      .describe('fired: earlier slots not run on their own; skipped: slots skipped from slotAt'),
    sessionId: z.string().nullable(),
    runId: z.string().nullable(),
    recordedAt: isoTime,
    recordedBy: z.string(),
  })
  .describe('One slot of a schedule, fired or skipped, recorded once');

const ScheduleParamsSchema = z
  .object({
    id: z
      .string()
      .refine(
        (value) => isValidId(value, IdPrefix.schedule) || SCHEDULE_NAME_PATTERN.test(value),
        'neither a schedule id nor a schedule name',
      )
      .describe('schedule id (sch_…) or name'),
  })
  .strict();

const PreviewQuerySchema = z.object({ count: wholeNumber(1, 100).default(5) }).strict();

const WRITE_ERRORS = {
  ...READ_ERRORS,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
  413: ErrorBodySchema,
  415: ErrorBodySchema,
} as const;

export function registerScheduleRoutes(app: ApiApp, context: RouteContext): void {
  const { schedules, controlPlane } = context.deps;
  // The job was checked when it was stored; a template that no longer parses warns of nothing.
  const withWarnings = async <T extends { readonly job: unknown }>(schedule: T) => {
    let job: JobSpec;
    try {
      job = parseJobSpec(schedule.job);
    } catch {
      return { ...schedule, warnings: [] };
    }
    return { ...schedule, warnings: await controlPlane.jobWarnings(job) };
  };

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/schedules`,
    config: { access: 'read' },
    schema: {
      summary: 'List schedules by name',
      tags: ['schedules'],
      operationId: 'listSchedules',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      response: { 200: z.object({ items: z.array(ScheduleSchema) }), ...READ_ERRORS },
    },
    handler: async () => ({ items: await schedules.list() }),
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/schedules`,
    config: { access: 'submit' },
    schema: {
      summary: 'Create a schedule: a JobSpec submitted once, every interval, or on a cron',
      description:
        'The job is checked as a submission is (JOB_INVALID naming the field). Every run the ' +
        'schedule fires is requested by the caller. Each slot fires exactly once across all ' +
        'servers sharing the database.',
      tags: ['schedules'],
      operationId: 'createSchedule',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      body: CreateScheduleBodySchema,
      response: { 201: ScheduleWrittenSchema, ...WRITE_ERRORS },
    },
    handler: async (request, reply) => {
      const created = await schedules.create(request.body, identityOf(request).name);
      return reply.code(201).send(await withWarnings(created));
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/schedules/:id`,
    config: { access: 'read' },
    schema: {
      summary: 'A schedule with its latest fires',
      tags: ['schedules'],
      operationId: 'getSchedule',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: ScheduleParamsSchema,
      response: {
        200: z.object({ schedule: ScheduleSchema, fires: z.array(ScheduleFireSchema) }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request) => schedules.get(request.params.id),
  });

  app.route({
    method: 'PATCH',
    url: `${API_PREFIX}/schedules/:id`,
    config: { access: 'submit' },
    schema: {
      summary: "Change a schedule's name, timing, misfire policy or job",
      description: 'A new timing starts from now: its first slot is the first one from now on.',
      tags: ['schedules'],
      operationId: 'updateSchedule',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: ScheduleParamsSchema,
      body: UpdateScheduleBodySchema,
      response: { 200: ScheduleWrittenSchema, ...WRITE_ERRORS },
    },
    handler: async (request) =>
      withWarnings(
        await schedules.update(request.params.id, request.body, identityOf(request).name),
      ),
  });

  app.route({
    method: 'DELETE',
    url: `${API_PREFIX}/schedules/:id`,
    config: { access: 'submit' },
    schema: {
      summary: 'Delete a schedule (the sessions it created stay)',
      tags: ['schedules'],
      operationId: 'deleteSchedule',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: ScheduleParamsSchema,
      response: { 200: ScheduleSchema, ...WRITE_ERRORS },
    },
    handler: async (request) => schedules.remove(request.params.id),
  });

  for (const action of ['pause', 'resume'] as const) {
    app.route({
      method: 'POST',
      url: `${API_PREFIX}/schedules/:id/${action}`,
      config: { access: 'submit' },
      schema: {
        summary:
          action === 'pause'
            ? 'Pause a schedule: it fires nothing until resumed'
            : 'Resume a schedule from its first slot from now on (paused slots are not missed)',
        tags: ['schedules'],
        operationId: `${action}Schedule`,
        security: BEARER_SECURITY,
        querystring: NoQuerySchema,
        params: ScheduleParamsSchema,
        response: { 200: ScheduleSchema, ...WRITE_ERRORS },
      },
      handler: async (request) =>
        action === 'pause'
          ? schedules.pause(request.params.id, identityOf(request).name)
          : schedules.resume(request.params.id, identityOf(request).name),
    });
  }

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/schedules/:id/trigger`,
    config: { access: 'submit' },
    schema: {
      summary: 'Fire a schedule now (its next slot stays as it is)',
      description:
        'Queues a session with one run from the job template, requested by whoever last set ' +
        'the schedule’s job; its history records `schedule.fired` with trigger `manual`. Takes ' +
        'no body.',
      tags: ['schedules'],
      operationId: 'triggerSchedule',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: ScheduleParamsSchema,
      response: {
        201: z.object({
          scheduleId: z.string(),
          sessionId: z.string(),
          runId: z.string(),
          slotAt: isoTime,
        }),
        ...WRITE_ERRORS,
      },
    },
    handler: async (request, reply) => {
      if (!controlPlane.accepting()) {
        throw new AasError(
          'SERVER_UNAVAILABLE',
          'the server is shutting down and accepts no jobs',
          {
            hint: 'trigger again on another server or after the restart',
          },
        );
      }
      const fired = await schedules.trigger(request.params.id, identityOf(request).name);
      return reply.code(201).send(fired);
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/schedules/:id/preview`,
    config: { access: 'read' },
    schema: {
      summary: 'The next fire times of a schedule',
      description: 'From its next fire on; for a paused schedule, from now on (as if resumed).',
      tags: ['schedules'],
      operationId: 'previewSchedule',
      security: BEARER_SECURITY,
      querystring: PreviewQuerySchema,
      params: ScheduleParamsSchema,
      response: {
        200: z.object({ scheduleId: z.string(), name: z.string(), times: z.array(isoTime) }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request) => schedules.preview(request.params.id, request.query.count),
  });
}
