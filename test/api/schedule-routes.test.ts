import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import { expectError, job, postJson, type RunningApi, startApi } from './api-fixture.js';

/**
 * `/api/v1/schedules` end to end over HTTP: create, read, change, pause, resume, trigger,
 * preview and delete, and the errors a caller can fix (each a 4xx naming the field).
 */

const V1 = '/api/v1';
const [sqlite] = await storeDialects();

interface ScheduleBody {
  id: string;
  name: string;
  state: string;
  nextFireAt: string | null;
  version: number;
  createdBy: string;
  timing: Record<string, unknown>;
  misfire: string;
}

describe('schedule routes', () => {
  let fixture: StoreFixture;
  let api: RunningApi;

  beforeAll(async () => {
    if (sqlite === undefined) throw new Error('no SQLite fixture');
    fixture = await sqlite.open();
    api = await startApi(fixture);
  });
  afterAll(async () => {
    await api?.close();
    await fixture?.cleanup();
  });

  const create = (body: unknown, secret?: string) =>
    api.request(`${V1}/schedules`, postJson(body, secret === undefined ? {} : { secret }));
  const patch = (id: string, body: unknown) =>
    api.request(`${V1}/schedules/${id}`, { ...postJson(body), method: 'PATCH' });

  it('creates a cron schedule in a time zone and shows it with its next fire', async () => {
    const response = await create(
      {
        name: 'weekday-triage',
        timing: { kind: 'cron', cron: '0 9 * * 1-5', timezone: 'europe/berlin' },
        job: job({ labels: ['nightly'] }),
      },
      api.secrets.operator,
    );
    expect(response.status).toBe(201);
    const created = (await response.json()) as ScheduleBody;
    expect(created).toMatchObject({
      name: 'weekday-triage',
      state: 'active',
      misfire: 'run_once',
      timing: { kind: 'cron', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' },
      version: 1,
    });
    expect(created.id).toMatch(/^sch_[0-9a-f]{24}$/);
    expect(created.createdBy).toMatch(/^operator-/);
    // The fixture clock starts on Sunday 2026-03-01 (UTC+1): the first weekday 09:00 is Monday.
    expect(created.nextFireAt).toBe('2026-03-02T08:00:00.000Z');

    const list = await api.json<{ items: ScheduleBody[] }>(`${V1}/schedules`, {
      secret: api.secrets.viewer,
    });
    expect(list.items.map((s) => s.name)).toContain('weekday-triage');
    const byName = await api.json<{ schedule: ScheduleBody; fires: unknown[] }>(
      `${V1}/schedules/weekday-triage`,
    );
    // As created, but for what the creator was warned of (nothing, here).
    const { warnings, ...stored } = created as ScheduleBody & { warnings?: unknown };
    expect(warnings).toEqual([]);
    expect(byName).toEqual({ schedule: stored, fires: [] });

    const preview = await api.json<{ times: string[] }>(
      `${V1}/schedules/${created.id}/preview?count=3`,
    );
    expect(preview.times).toEqual([
      '2026-03-02T08:00:00.000Z',
      '2026-03-03T08:00:00.000Z',
      '2026-03-04T08:00:00.000Z',
    ]);
  });

  it('triggers now: a queued session requested by the creator, with schedule.fired', async () => {
    const created = (await (
      await create(
        { name: 'on-demand', timing: { kind: 'interval', everySec: 3600 }, job: job() },
        api.secrets.operator,
      )
    ).json()) as ScheduleBody;
    const response = await api.request(`${V1}/schedules/on-demand/trigger`, {
      method: 'POST',
      secret: api.secrets.admin,
    });
    expect(response.status).toBe(201);
    const fired = (await response.json()) as { sessionId: string; runId: string; slotAt: string };
    const session = await api.json<{ session: { requestedBy: string; status: string } }>(
      `${V1}/sessions/${fired.sessionId}`,
    );
    expect(session.session).toMatchObject({ requestedBy: created.createdBy, status: 'queued' });
    const events = await api.json<{ items: { type: string; actor: string; data: unknown }[] }>(
      `${V1}/sessions/${fired.sessionId}/events`,
    );
    expect(events.items.map((e) => e.type)).toEqual([
      'session.created',
      'run.queued',
      'schedule.fired',
    ]);
    expect(events.items[2]).toMatchObject({
      actor: expect.stringMatching(/^admin-/),
      data: {
        scheduleId: created.id,
        scheduleName: 'on-demand',
        trigger: 'manual',
        runId: fired.runId,
        slotAt: fired.slotAt,
      },
    });
    // The next slot did not move; the fire is listed.
    const after = await api.json<{ schedule: ScheduleBody; fires: { trigger: string }[] }>(
      `${V1}/schedules/${created.id}`,
    );
    expect(after.schedule.nextFireAt).toBe(created.nextFireAt);
    expect(after.fires).toEqual([expect.objectContaining({ trigger: 'manual', outcome: 'fired' })]);
  });

  it("runs are requested by whoever last set the job, not by the schedule's creator", async () => {
    const created = (await (
      await create(
        { name: 'handed-over', timing: { kind: 'interval', everySec: 3600 }, job: job() },
        api.secrets.operator,
      )
    ).json()) as ScheduleBody & { jobSetBy: string };
    expect(created.jobSetBy).toBe(created.createdBy);
    // The admin puts a job of their own into the operator's schedule; the operator pauses it.
    const edited = await api.request(`${V1}/schedules/handed-over`, {
      ...postJson({ job: job({ task: 'a job of my own' }) }, { secret: api.secrets.admin }),
      method: 'PATCH',
    });
    expect(edited.status).toBe(200);
    const pausedBy = await api.request(`${V1}/schedules/handed-over/pause`, {
      method: 'POST',
      secret: api.secrets.operator,
    });
    expect(pausedBy.status).toBe(200);
    const shown = await api.json<{ schedule: ScheduleBody & { jobSetBy: string } }>(
      `${V1}/schedules/handed-over`,
    );
    expect(shown.schedule.jobSetBy).toMatch(/^admin-/);
    expect(shown.schedule.createdBy).toMatch(/^operator-/);
    const fired = (await (
      await api.request(`${V1}/schedules/handed-over/trigger`, {
        method: 'POST',
        secret: api.secrets.operator,
      })
    ).json()) as { sessionId: string };
    const session = await api.json<{ session: { requestedBy: string } }>(
      `${V1}/sessions/${fired.sessionId}`,
    );
    // The author of the job is its runs' requester, whom the self-approval rule then reaches.
    expect(session.session.requestedBy).toBe(shown.schedule.jobSetBy);
  });

  it('pauses, resumes, changes and deletes', async () => {
    const created = (await (
      await create({
        name: 'changing',
        timing: { kind: 'interval', everySec: 900 },
        misfire: 'skip',
        job: job(),
      })
    ).json()) as ScheduleBody;
    const paused = await api.json<ScheduleBody>(`${V1}/schedules/changing/pause`, {
      method: 'POST',
    });
    expect(paused).toMatchObject({ state: 'paused', version: 2 });
    // Pausing twice changes nothing; an empty body sent as JSON is no body.
    expect(
      await api.json<ScheduleBody>(`${V1}/schedules/changing/pause`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '',
      }),
    ).toEqual(paused);
    const resumed = await api.json<ScheduleBody>(`${V1}/schedules/changing/resume`, {
      method: 'POST',
    });
    expect(resumed).toMatchObject({ state: 'active', version: 3 });

    const renamed = (await (
      await patch(created.id, {
        name: 'changed',
        timing: { kind: 'once', at: '2027-01-01T00:00:00+01:00' },
        misfire: 'run_once',
      })
    ).json()) as ScheduleBody;
    expect(renamed).toMatchObject({
      name: 'changed',
      misfire: 'run_once',
      timing: { kind: 'once', at: '2026-12-31T23:00:00.000Z' },
      nextFireAt: '2026-12-31T23:00:00.000Z',
      version: 4,
    });
    const deleted = await api.request(`${V1}/schedules/changed`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    await expectError(await api.request(`${V1}/schedules/changed`), 'NOT_FOUND');
  });

  it('refuses what the caller can fix, naming the field', async () => {
    const base = { name: 'bad', timing: { kind: 'interval', everySec: 600 }, job: job() };
    await expectError(
      await create({ ...base, timing: { kind: 'cron', cron: '61 * * * *' } }),
      'INVALID_ARGUMENT',
      'timing.cron',
    );
    await expectError(
      await create({ ...base, timing: { kind: 'cron', cron: '* * * * *', timezone: 'Mars/X' } }),
      'INVALID_ARGUMENT',
      'timing.timezone',
    );
    await expectError(
      await create({ ...base, timing: { kind: 'cron', cron: '0 0 30 2 *' } }),
      'INVALID_ARGUMENT',
      'timing.cron',
    );
    await expectError(
      await create({ ...base, timing: { kind: 'once', at: '2020-01-01T00:00:00Z' } }),
      'INVALID_ARGUMENT',
      'timing.at',
    );
    await expectError(
      await create({ ...base, timing: { kind: 'once', at: '2030-01-01T00:00:00' } }),
      'REQUEST_INVALID',
      'timing.at',
    );
    // Past year 9999 in UTC the stored text would sort before every real time.
    await expectError(
      await create({ ...base, timing: { kind: 'once', at: '9999-12-31T23:59:59-12:00' } }),
      'REQUEST_INVALID',
      'timing.at',
    );
    await expectError(
      await create({
        ...base,
        timing: { kind: 'interval', everySec: 600, startAt: '0000-01-01T00:00:00+01:00' },
      }),
      'REQUEST_INVALID',
      'timing.startAt',
    );
    await expectError(
      await create({ ...base, timing: { kind: 'interval', everySec: 5 } }),
      'REQUEST_INVALID',
      'timing.everySec',
    );
    const noTask = await expectError(
      await create({ ...base, job: { repo: '/repos/demo', agent: 'mock' } }),
      'REQUEST_INVALID',
      'job.task',
    );
    expect(noTask.message).toBe('task is required');
    // A misspelt key is named, not the field it left missing.
    const misspelt = await expectError(
      await create({ ...base, timing: { kind: 'interval', every: '15m' } }),
      'REQUEST_INVALID',
      'timing.every',
    );
    expect(misspelt.message).toBe('unknown field "every"');
    await expectError(
      await create({ ...base, name: 'sch_0123456789abcdef01234567' }),
      'REQUEST_INVALID',
      'name',
    );
    await expectError(await create({ ...base, misfire: 'later' }), 'REQUEST_INVALID', 'misfire');
    // Past 2^53 zod's whole-number check fails too; the field's own limit is what is said.
    const huge = await expectError(
      await create({ ...base, timing: { kind: 'interval', everySec: 1e308 } }),
      'REQUEST_INVALID',
      'timing.everySec',
    );
    expect(huge.message).not.toContain('9007199254740991');
    const retries = await expectError(
      await create({ ...base, job: { ...job(), retries: 1e20 } }),
      'REQUEST_INVALID',
      'job.retries',
    );
    expect(retries.message).toBe('must be at most 10');
    expect((await create({ ...base, name: 'taken' })).status).toBe(201);
    await expectError(await create({ ...base, name: 'taken' }), 'NAME_TAKEN', 'name');
    await expectError(await patch('taken', {}), 'INVALID_ARGUMENT');
    await expectError(await patch('nope', { misfire: 'skip' }), 'NOT_FOUND');
    // A version is 32 bits in the database (PostgreSQL refused a larger one with a 500).
    const version = await expectError(
      await patch('taken', { misfire: 'skip', expectedVersion: 2 ** 31 }),
      'REQUEST_INVALID',
      'expectedVersion',
    );
    expect(version.message).toBe('a schedule version is at most 2147483647');
    for (const count of ['0', 'abc', '1.5', '101']) {
      const refused = await expectError(
        await api.request(`${V1}/schedules/taken/preview?count=${count}`),
        'REQUEST_INVALID',
        'count',
      );
      expect(refused.message, count).toMatch(/must be a whole number from 1 to 100/);
    }
    await expectError(await api.request(`${V1}/schedules/no%20such`), 'REQUEST_INVALID', 'id');
    // A viewer reads but does not create.
    await expectError(await create(base, api.secrets.viewer), 'FORBIDDEN');
  });

  it('a draining server refuses triggers', async () => {
    await create({ name: 'drain', timing: { kind: 'interval', everySec: 600 }, job: job() });
    api.controlPlane.accepting_ = false;
    try {
      await expectError(
        await api.request(`${V1}/schedules/drain/trigger`, { method: 'POST' }),
        'SERVER_UNAVAILABLE',
      );
    } finally {
      api.controlPlane.accepting_ = true;
    }
  });
});
