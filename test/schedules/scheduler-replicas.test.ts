import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, silentLogger } from '../../src/kernel/index.js';
import { Scheduler, ScheduleService, type TickReport } from '../../src/schedules/index.js';
import { EventBus } from '../../src/sessions/index.js';
import type { Store } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';

/**
 * Schedules across replicas fire once per slot. Several schedulers, each on its own store
 * (its own connection or pool) against one database, tick the same slots of one injected clock
 * at the same moment: every slot yields exactly one session, whoever wins, and the losers write
 * nothing. No sleeping: the clock only moves when the test moves it.
 */

const REPLICAS = 3;
const MINUTE = 60_000;
const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const job = { task: 'nightly triage', repo: '/repos/demo', agent: 'mock' };

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`schedules across replicas: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let clock: ManualClock;
    let service: ScheduleService;
    let schedulers: Scheduler[];
    let stores: Store[];

    beforeEach(async () => {
      fixture = await dialect.open();
      clock = new ManualClock(T0);
      stores = [fixture.store];
      for (let i = 1; i < REPLICAS; i += 1) stores.push(await fixture.openAnother());
      service = new ScheduleService({ store: fixture.store, clock, bus: new EventBus() });
      schedulers = stores.map(
        (store, i) =>
          new Scheduler(
            { store, clock, bus: new EventBus(), log: silentLogger },
            { actor: `system:scheduler:replica-${i}`, misfireGraceMs: MINUTE },
          ),
      );
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    const tickAll = () => Promise.all(schedulers.map((scheduler) => scheduler.tick()));
    const firedIn = (reports: readonly TickReport[]) => reports.flatMap((r) => r.fired);

    async function sessionsOf(scheduleName: string) {
      const found = await fixture.store.getSchedule(scheduleName);
      if (found === null) throw new Error(`no schedule ${scheduleName}`);
      return fixture.store.listScheduleFires(found.id);
    }

    it('fires each slot of several schedules exactly once', async () => {
      await service.create(
        { name: 'every-2m', timing: { kind: 'interval', everySec: 120 }, job },
        'alice',
      );
      await service.create(
        {
          name: 'weekday-minutely',
          timing: { kind: 'cron', cron: '* 8-9 * * 1-5', timezone: 'UTC' },
          job,
        },
        'bob',
      );
      const slots = 6;
      for (let minute = 1; minute <= slots; minute += 1) {
        clock.set(T0 + minute * MINUTE);
        const reports = await tickAll();
        // Every replica ticked the same instant; together they fired what was due, once.
        const expected = 1 + (minute % 2 === 0 ? 1 : 0);
        expect(firedIn(reports), `minute ${minute}`).toHaveLength(expected);
      }
      const interval = await sessionsOf('every-2m');
      const cron = await sessionsOf('weekday-minutely');
      expect(interval.map((f) => f.slotAt).sort()).toEqual(
        [2, 4, 6].map((m) => new Date(T0 + m * MINUTE).toISOString()),
      );
      expect(cron).toHaveLength(slots);
      expect(new Set(cron.map((f) => f.slotAt)).size).toBe(slots);
      // One session per fire, each requested by the schedule's creator, each with its event.
      const sessions = await fixture.store.listSessions();
      expect(sessions).toHaveLength(3 + slots);
      for (const fire of [...interval, ...cron]) {
        expect(fire.outcome).toBe('fired');
        const events = await fixture.store.readEvents(fire.sessionId ?? '');
        expect(events.map((e) => e.type)).toEqual([
          'session.created',
          'run.queued',
          'schedule.fired',
        ]);
        expect(events[2]?.data).toMatchObject({
          slotAt: fire.slotAt,
          trigger: 'schedule',
          runId: fire.runId,
          missedSlots: 0,
        });
        expect(events[2]?.actor).toBe(fire.recordedBy);
      }
      expect(new Set(sessions.map((s) => s.requestedBy))).toEqual(new Set(['alice', 'bob']));
    });

    it('many concurrent ticks on one due slot: one session, the rest lose cleanly', async () => {
      await service.create(
        { name: 'hourly', timing: { kind: 'cron', cron: '0 * * * *', timezone: 'UTC' }, job },
        'alice',
      );
      clock.set(T0 + 60 * MINUTE + 5_000);
      // Each replica is asked to tick several times at once: within one scheduler the calls
      // share the tick in progress (one report), across schedulers they race in the store.
      const reports = await Promise.all(
        [...schedulers, ...schedulers, ...schedulers].map((scheduler) => scheduler.tick()),
      );
      const distinct = [...new Set(reports)];
      expect(distinct).toHaveLength(REPLICAS);
      expect(firedIn(distinct)).toHaveLength(1);
      // A replica that read the schedule before the winner committed lost the compare-and-set;
      // one that read it after found it no longer due. Neither wrote anything.
      expect(distinct.reduce((lost, report) => lost + report.lost, 0)).toBeLessThan(REPLICAS);
      expect(await sessionsOf('hourly')).toHaveLength(1);
      expect((await fixture.store.countRunsByStatus()).queued).toBe(1);
      const schedule = await fixture.store.getSchedule('hourly');
      expect(schedule?.nextFireAt).toBe(new Date(T0 + 120 * MINUTE).toISOString());
    });

    it('after downtime, run_once fires once for the latest slot and skip fires nothing', async () => {
      const hourly = { kind: 'cron', cron: '0 * * * *', timezone: 'UTC' } as const;
      await service.create({ name: 'catch-up', timing: hourly, misfire: 'run_once', job }, 'a');
      await service.create({ name: 'let-go', timing: hourly, misfire: 'skip', job }, 'a');
      // Down from 08:00 until 12:30: the 09:00, 10:00, 11:00 and 12:00 slots passed.
      clock.set(T0 + 270 * MINUTE);
      const reports = await tickAll();
      const fired = firedIn(reports);
      expect(fired).toHaveLength(1);
      const [caughtUp] = await sessionsOf('catch-up');
      expect(caughtUp).toMatchObject({
        outcome: 'fired',
        slotAt: '2026-03-02T12:00:00.000Z',
        missedSlots: 3,
      });
      const events = await fixture.store.readEvents(caughtUp?.sessionId ?? '');
      expect(events[2]?.data).toMatchObject({ missedSlots: 3, lateMs: 30 * MINUTE });
      expect(await sessionsOf('let-go')).toEqual([
        expect.objectContaining({
          outcome: 'skipped',
          slotAt: '2026-03-02T09:00:00.000Z',
          missedSlots: 4,
          sessionId: null,
        }),
      ]);
      for (const name of ['catch-up', 'let-go']) {
        expect((await fixture.store.getSchedule(name))?.nextFireAt).toBe(
          '2026-03-02T13:00:00.000Z',
        );
      }
      // Back to normal: the next slot fires on time for both.
      clock.set(Date.parse('2026-03-02T13:00:10.000Z'));
      expect(firedIn(await tickAll())).toHaveLength(2);
    });

    it('a paused schedule fires nothing; resumed, it starts from the next slot', async () => {
      await service.create(
        { name: 'paused', timing: { kind: 'interval', everySec: 60 }, job },
        'alice',
      );
      await service.pause('paused', 'alice');
      clock.set(T0 + 10 * MINUTE);
      expect(firedIn(await tickAll())).toHaveLength(0);
      const resumed = await service.resume('paused', 'alice');
      // The slots while paused were not missed: the next one is the first after now.
      expect(resumed.nextFireAt).toBe(new Date(T0 + 11 * MINUTE).toISOString());
      expect(firedIn(await tickAll())).toHaveLength(0);
      clock.set(T0 + 11 * MINUTE);
      expect(firedIn(await tickAll())).toHaveLength(1);
      expect(await sessionsOf('paused')).toHaveLength(1);
    });

    it('a manual trigger races the scheduler: both fire, neither twice', async () => {
      await service.create(
        { name: 'racy', timing: { kind: 'interval', everySec: 60 }, job },
        'alice',
      );
      clock.set(T0 + MINUTE);
      const [reports, manual] = await Promise.all([tickAll(), service.trigger('racy', 'carol')]);
      expect(firedIn(reports)).toHaveLength(1);
      const fires = await sessionsOf('racy');
      expect(fires.map((f) => f.trigger).sort()).toEqual(['manual', 'schedule']);
      expect(fires.find((f) => f.trigger === 'manual')?.runId).toBe(manual.runId);
    });
    it("a paused schedule's preview starts where a resume would, also at a slot's very instant", async () => {
      await service.create(
        { name: 'daily-9', timing: { kind: 'cron', cron: '0 9 * * *', timezone: 'UTC' }, job },
        'alice',
      );
      await service.pause('daily-9', 'alice');
      clock.set(T0 + 60 * MINUTE); // 09:00:00.000, the slot itself
      const preview = await service.preview('daily-9', 2);
      const resumed = await service.resume('daily-9', 'alice');
      expect(preview.times[0]).toBe(resumed.nextFireAt);
      expect(preview.times).toEqual(['2026-03-03T09:00:00.000Z', '2026-03-04T09:00:00.000Z']);
    });

    it("an overdue schedule's preview shows what the next tick will do under its misfire policy", async () => {
      const previewing = new ScheduleService(
        { store: fixture.store, clock, bus: new EventBus() },
        { misfireGraceMs: MINUTE },
      );
      for (const misfire of ['run_once', 'skip'] as const) {
        await service.create(
          {
            name: `nightly-${misfire}`,
            timing: { kind: 'cron', cron: '0 2 * * *', timezone: 'UTC' },
            misfire,
            job,
          },
          'alice',
        );
      }
      // Four nights pass with no scheduler running.
      clock.set(Date.parse('2026-03-06T08:00:00.000Z'));
      const runOnce = await previewing.preview('nightly-run_once', 2);
      const skip = await previewing.preview('nightly-skip', 2);
      // One fire now, for the latest missed night, then on as usual; skip fires none of them.
      expect(runOnce.times).toEqual(['2026-03-06T02:00:00.000Z', '2026-03-07T02:00:00.000Z']);
      expect(skip.times).toEqual(['2026-03-07T02:00:00.000Z', '2026-03-08T02:00:00.000Z']);
      const fired = firedIn(await tickAll());
      expect(fired.map((fire) => fire.slotAt)).toEqual([runOnce.times[0]]);
      expect((await service.get('nightly-run_once')).schedule.nextFireAt).toBe(runOnce.times[1]);
      expect((await service.get('nightly-skip')).schedule.nextFireAt).toBe(skip.times[0]);
    });

    it('a stored job that no longer parses pauses its schedule instead of firing', async () => {
      await fixture.store.createSchedule({
        id: 'sch_00000000000000000000000b',
        name: 'broken',
        kind: 'interval',
        at: new Date(T0 + MINUTE).toISOString(),
        everySec: 60,
        cron: null,
        timezone: null,
        misfire: 'run_once',
        pausedAt: null,
        // Written by some other version: no agent.
        jobSpec: { task: 'x', repo: '/repos/demo' },
        nextFireAt: new Date(T0 + MINUTE).toISOString(),
        createdBy: 'alice',
        createdAt: new Date(T0).toISOString(),
      });
      clock.set(T0 + MINUTE);
      expect(firedIn(await tickAll())).toHaveLength(0);
      expect((await fixture.store.getSchedule('broken'))?.pausedAt).not.toBeNull();
      expect(await fixture.store.listSessions()).toEqual([]);
    });

    it('a stored timing that no longer computes pauses its schedule; the others still fire', async () => {
      const stored = {
        misfire: 'run_once' as const,
        pausedAt: null,
        jobSpec: job,
        nextFireAt: new Date(T0 + MINUTE).toISOString(),
        createdBy: 'alice',
        createdAt: new Date(T0).toISOString(),
      };
      // Written by some other version: a pattern this croner refuses.
      await fixture.store.createSchedule({
        ...stored,
        id: 'sch_00000000000000000000000c',
        name: 'bad-cron',
        kind: 'cron',
        at: null,
        everySec: null,
        cron: '0 25 * * *',
        timezone: 'UTC',
      });
      await service.create(
        { name: 'healthy', timing: { kind: 'interval', everySec: 60 }, job },
        'alice',
      );
      clock.set(T0 + MINUTE);
      const fired = firedIn(await tickAll());
      expect(fired.map((fire) => fire.scheduleId)).toEqual([
        (await fixture.store.getSchedule('healthy'))?.id,
      ]);
      expect((await fixture.store.getSchedule('bad-cron'))?.pausedAt).not.toBeNull();
      // Paused, it is no longer due: the next ticks do not meet it again.
      expect(await fixture.store.dueSchedules(clock.nowIso(), 10)).toEqual([]);
    });
  });
}
