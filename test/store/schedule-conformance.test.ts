import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import type {
  FireScheduleInput,
  NewSchedule,
  NewSessionWithRun,
  Store,
} from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from './dialects.js';
import { at, event, expectValidChain, runId, sessionId } from './queue-helpers.js';

/**
 * The schedule half of the store port on both dialects: definitions (unique names, versions),
 * the due scan, and `fireSchedule` — compare-and-set on the version, one fire row per slot, the
 * session created in the same transaction.
 */

const scheduleId = (n: number) => `sch_${n.toString(16).padStart(24, '0')}`;

function newSchedule(n: number, overrides: Partial<NewSchedule> = {}): NewSchedule {
  return {
    id: scheduleId(n),
    name: `nightly-${n}`,
    kind: 'cron',
    at: null,
    everySec: null,
    cron: '0 3 * * *',
    timezone: 'Europe/Berlin',
    misfire: 'run_once',
    pausedAt: null,
    jobSpec: { task: `task ${n}`, repo: '/repos/demo', agent: 'mock' },
    nextFireAt: at(60_000 * n),
    createdBy: 'alice',
    createdAt: at(0),
    ...overrides,
  };
}

function creation(n: number): NewSessionWithRun {
  return {
    session: {
      id: sessionId(n),
      createdAt: at(n),
      task: `task ${n}`,
      repo: '/repos/demo',
      agent: 'mock',
      requestedBy: 'alice',
      labels: [],
    },
    run: { id: runId(n), createdAt: at(n), jobSpec: { task: `task ${n}` }, maxClaims: 2 },
    events: [
      event('session.created', n),
      event('run.queued', n),
      event('schedule.fired', n, { n }),
    ],
  };
}

function fire(overrides: Partial<FireScheduleInput> & { scheduleId: string }): FireScheduleInput {
  return {
    expectedVersion: 1,
    trigger: 'schedule',
    slotAt: at(60_000),
    missedSlots: 0,
    advance: { nextFireAt: at(120_000) },
    create: creation(1),
    recordedAt: at(60_500),
    recordedBy: 'system:scheduler:a',
    ...overrides,
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (isAasError(error) ? error.code : String(error)),
  );
}

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`schedule conformance: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await dialect.open();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('creates, reads by id or name, lists by name, and refuses a taken name', async () => {
      const created = await store.createSchedule(newSchedule(2));
      expect(created).toMatchObject({
        id: scheduleId(2),
        name: 'nightly-2',
        kind: 'cron',
        version: 1,
        updatedBy: 'alice',
        updatedAt: at(0),
        jobSpec: { task: 'task 2' },
      });
      await store.createSchedule(newSchedule(1));
      expect(await store.getSchedule(scheduleId(2))).toEqual(created);
      expect(await store.getSchedule('nightly-2')).toEqual(created);
      expect(await store.getSchedule('nope')).toBeNull();
      expect((await store.listSchedules()).map((s) => s.name)).toEqual(['nightly-1', 'nightly-2']);
      expect(await codeOf(store.createSchedule(newSchedule(3, { name: 'nightly-1' })))).toBe(
        'NAME_TAKEN',
      );
    });

    it('refuses timing fields the kind does not use, and unknown kinds or policies', async () => {
      const bad: Partial<NewSchedule>[] = [
        { kind: 'once', at: null, cron: null, timezone: null },
        { kind: 'interval', at: at(0), everySec: null, cron: null, timezone: null },
        { kind: 'cron', cron: null },
        { kind: 'cron', at: at(0) },
        { kind: 'weekly' as never },
        { misfire: 'later' as never },
        { kind: 'interval', at: at(0), everySec: 0, cron: null, timezone: null },
      ];
      for (const overrides of bad) {
        expect(
          await codeOf(store.createSchedule(newSchedule(4, overrides))),
          JSON.stringify(overrides),
        ).toBe('INVALID_ARGUMENT');
      }
      expect(await store.listSchedules()).toEqual([]);
    });

    it('updates with an optional expected version; deletes with the fire records', async () => {
      await store.createSchedule(newSchedule(1));
      const renamed = await store.updateSchedule({
        id: scheduleId(1),
        expectedVersion: 1,
        changes: { name: 'renamed', misfire: 'skip', pausedAt: at(5) },
        updatedAt: at(5),
        updatedBy: 'bob',
      });
      expect(renamed).toMatchObject({
        name: 'renamed',
        misfire: 'skip',
        pausedAt: at(5),
        version: 2,
        updatedBy: 'bob',
      });
      expect(
        await codeOf(
          store.updateSchedule({
            id: scheduleId(1),
            expectedVersion: 1,
            changes: { name: 'again' },
            updatedAt: at(6),
            updatedBy: 'bob',
          }),
        ),
      ).toBe('CONFLICT');
      await store.createSchedule(newSchedule(2));
      expect(
        await codeOf(
          store.updateSchedule({
            id: scheduleId(2),
            changes: { name: 'renamed' },
            updatedAt: at(6),
            updatedBy: 'bob',
          }),
        ),
      ).toBe('NAME_TAKEN');
      expect(
        await codeOf(
          store.updateSchedule({
            id: scheduleId(9),
            changes: { name: 'x' },
            updatedAt: at(6),
            updatedBy: 'bob',
          }),
        ),
      ).toBe('NOT_FOUND');
      // A timing change gives every timing field.
      expect(
        await codeOf(
          store.updateSchedule({
            id: scheduleId(2),
            changes: { kind: 'once' },
            updatedAt: at(6),
            updatedBy: 'bob',
          }),
        ),
      ).toBe('INVALID_ARGUMENT');
      const retimed = await store.updateSchedule({
        id: scheduleId(2),
        changes: {
          kind: 'interval',
          at: at(1_000),
          everySec: 900,
          cron: null,
          timezone: null,
          nextFireAt: at(1_000),
        },
        updatedAt: at(7),
        updatedBy: 'bob',
      });
      expect(retimed).toMatchObject({ kind: 'interval', everySec: 900, cron: null, version: 2 });

      await store.fireSchedule(fire({ scheduleId: scheduleId(2), expectedVersion: 2 }));
      const deleted = await store.deleteSchedule(scheduleId(2));
      expect(deleted.id).toBe(scheduleId(2));
      expect(await store.getSchedule(scheduleId(2))).toBeNull();
      expect(await codeOf(store.listScheduleFires(scheduleId(2)))).toBe('NOT_FOUND');
      // The session it created is history and stays.
      expect(await store.getSession(sessionId(1))).not.toBeNull();
      expect(await codeOf(store.deleteSchedule(scheduleId(2)))).toBe('NOT_FOUND');
      // The name is free again.
      await store.createSchedule(newSchedule(3, { name: 'nightly-2' }));
    });

    it.skipIf(dialect.name !== 'postgres')(
      'a delete that meets a fire in flight waits for it, then removes its record too',
      async () => {
        await store.createSchedule(newSchedule(2));
        const url = fixture.databaseUrl;
        if (url === undefined) throw new Error('PostgreSQL fixture without a URL');
        const firing = new pg.Client({ connectionString: url });
        await firing.connect();
        try {
          // A fire half done: the schedule row locked by its version bump, its fire row added.
          await firing.query('begin');
          await firing.query('update schedules set version = version + 1 where id = $1', [
            scheduleId(2),
          ]);
          await firing.query(
            `insert into schedule_fires (schedule_id, trigger, slot_at, outcome, missed_slots,
               recorded_at, recorded_by) values ($1, 'manual', $2, 'skipped', 0, $2, 'test')`,
            [scheduleId(2), at(1_000)],
          );
          const deleting = store.deleteSchedule(scheduleId(2)).then(
            () => 'deleted',
            (error: unknown) => (isAasError(error) ? error.code : String(error)),
          );
          // The delete waits on the fire's lock before the fire commits.
          for (;;) {
            const waiting = await firing.query(
              `select count(*)::int as n from pg_stat_activity
               where wait_event_type = 'Lock' and datname = current_database()`,
            );
            if (waiting.rows[0].n > 0) break;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          await firing.query('commit');
          expect(await deleting).toBe('deleted');
          expect(await store.getSchedule(scheduleId(2))).toBeNull();
        } finally {
          await firing.end();
        }
      },
    );

    it('lists due schedules earliest first, never paused or finished ones', async () => {
      await store.createSchedule(newSchedule(3, { nextFireAt: at(3_000) }));
      await store.createSchedule(newSchedule(1, { nextFireAt: at(1_000) }));
      await store.createSchedule(newSchedule(2, { nextFireAt: at(2_000), pausedAt: at(0) }));
      await store.createSchedule(newSchedule(4, { nextFireAt: null }));
      await store.createSchedule(newSchedule(5, { nextFireAt: at(9_000) }));
      const due = await store.dueSchedules(at(3_000), 10);
      expect(due.map((s) => s.id)).toEqual([scheduleId(1), scheduleId(3)]);
      expect((await store.dueSchedules(at(3_000), 1)).map((s) => s.id)).toEqual([scheduleId(1)]);
    });

    it('fires: advances with the version, records the fire, creates the session', async () => {
      await store.createSchedule(newSchedule(1));
      const result = await store.fireSchedule(fire({ scheduleId: scheduleId(1) }));
      if (result.outcome !== 'fired') throw new Error(`expected fired, got ${result.outcome}`);
      expect(result.schedule).toMatchObject({ nextFireAt: at(120_000), version: 2 });
      expect(result.fire).toEqual({
        scheduleId: scheduleId(1),
        trigger: 'schedule',
        slotAt: at(60_000),
        outcome: 'fired',
        missedSlots: 0,
        sessionId: sessionId(1),
        runId: runId(1),
        recordedAt: at(60_500),
        recordedBy: 'system:scheduler:a',
      });
      expect(result.events.map((e) => e.type)).toEqual([
        'session.created',
        'run.queued',
        'schedule.fired',
      ]);
      expectValidChain(await store.readEvents(sessionId(1)), await store.getSession(sessionId(1)));
      expect(await store.getRun(runId(1))).toMatchObject({ status: 'queued', maxClaims: 2 });
      expect(await store.listScheduleFires(scheduleId(1))).toEqual([result.fire]);
    });

    it('a second fire of the same version is stale and writes nothing', async () => {
      await store.createSchedule(newSchedule(1));
      await store.fireSchedule(fire({ scheduleId: scheduleId(1) }));
      const again = await store.fireSchedule(
        fire({ scheduleId: scheduleId(1), create: creation(2), recordedBy: 'system:scheduler:b' }),
      );
      expect(again.outcome).toBe('stale');
      expect(again.schedule?.version).toBe(2);
      expect(await store.getSession(sessionId(2))).toBeNull();
      expect(await store.listScheduleFires(scheduleId(1))).toHaveLength(1);
      const unknown = await store.fireSchedule(fire({ scheduleId: scheduleId(7) }));
      expect(unknown).toEqual({ outcome: 'stale', schedule: null });
    });

    it('a slot fired before is already_fired: only the advance is kept', async () => {
      await store.createSchedule(newSchedule(1));
      await store.fireSchedule(fire({ scheduleId: scheduleId(1) }));
      // The same slot again, at the current version (a schedule moved back onto it).
      const again = await store.fireSchedule(
        fire({
          scheduleId: scheduleId(1),
          expectedVersion: 2,
          create: creation(2),
          advance: { nextFireAt: at(180_000) },
        }),
      );
      expect(again.outcome).toBe('already_fired');
      expect(again.schedule).toMatchObject({ version: 3, nextFireAt: at(180_000) });
      expect(await store.getSession(sessionId(2))).toBeNull();
      expect(await store.listScheduleFires(scheduleId(1))).toHaveLength(1);
    });

    it('records a skip without a session; a manual fire leaves the version and next slot', async () => {
      await store.createSchedule(newSchedule(1));
      const { create: _, ...withoutCreate } = fire({ scheduleId: scheduleId(1), missedSlots: 3 });
      const skipped = await store.fireSchedule(withoutCreate);
      expect(skipped).toMatchObject({
        outcome: 'skipped',
        fire: { outcome: 'skipped', sessionId: null, runId: null, missedSlots: 3 },
        events: [],
      });
      const manual = await store.fireSchedule({
        scheduleId: scheduleId(1),
        expectedVersion: 2,
        trigger: 'manual',
        // The same instant as the skipped slot: manual and scheduled fires are keyed apart.
        slotAt: at(60_000),
        missedSlots: 0,
        create: creation(3),
        recordedAt: at(70_000),
        recordedBy: 'bob',
      });
      expect(manual).toMatchObject({
        outcome: 'fired',
        schedule: { version: 2, nextFireAt: at(120_000) },
        fire: { trigger: 'manual', sessionId: sessionId(3) },
      });
      expect((await store.listScheduleFires(scheduleId(1))).map((f) => f.recordedBy)).toEqual([
        'bob',
        'system:scheduler:a',
      ]);
      expect(await store.listScheduleFires(scheduleId(1), 1)).toHaveLength(1);
    });

    it('a failing session creation rolls the whole fire back', async () => {
      await store.createSchedule(newSchedule(1));
      // Session 1 exists already: its insert fails, so nothing of the fire may remain.
      await store.createSession(creation(1));
      expect(await codeOf(store.fireSchedule(fire({ scheduleId: scheduleId(1) })))).toBe(
        'CONFLICT',
      );
      expect(await store.getSchedule(scheduleId(1))).toMatchObject({
        version: 1,
        nextFireAt: at(60_000),
      });
      expect(await store.listScheduleFires(scheduleId(1))).toEqual([]);
    });

    it('concurrent fires of one slot from separate stores: exactly one wins', async () => {
      await store.createSchedule(newSchedule(1));
      const stores = [store, await fixture.openAnother(), await fixture.openAnother()];
      const results = await Promise.all(
        stores.map((s, i) =>
          s.fireSchedule(fire({ scheduleId: scheduleId(1), create: creation(10 + i) })),
        ),
      );
      expect(results.map((r) => r.outcome).sort()).toEqual(['fired', 'stale', 'stale']);
      expect(await store.listScheduleFires(scheduleId(1))).toHaveLength(1);
      expect((await store.countRunsByStatus()).queued).toBe(1);
    });
  });
}
