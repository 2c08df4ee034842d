import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError, ManualClock } from '../../src/kernel/index.js';
import { ScheduleService } from '../../src/schedules/index.js';
import { EventBus } from '../../src/sessions/index.js';
import type { Store } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';

/**
 * Changes of one schedule that overlap: each is computed from the version it replaces, so a
 * change computed from an old timing never lands after a new one, and a client's
 * read-modify-write names the version it read.
 */

const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const HOUR = 3_600_000;
const job = { task: 'nightly triage', repo: '/repos/demo', agent: 'mock' };

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`overlapping schedule changes: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let clock: ManualClock;
    let service: ScheduleService;

    beforeEach(async () => {
      fixture = await dialect.open();
      clock = new ManualClock(T0);
      service = new ScheduleService({ store: fixture.store, clock, bus: new EventBus() });
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    /** The store, with `before` run once ahead of the first write of a schedule through it. */
    function storeWritingFirst(before: () => Promise<unknown>): Store {
      let done = false;
      return new Proxy(fixture.store, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key);
          if (key !== 'updateSchedule' || typeof value !== 'function') {
            return typeof value === 'function' ? value.bind(target) : value;
          }
          return async (...args: unknown[]) => {
            if (!done) {
              done = true;
              await before();
            }
            return value.apply(target, args);
          };
        },
      });
    }

    it('a fire holds a stored template to what a submission is held to: its target branch', async () => {
      await service.create(
        { name: 'old', timing: { kind: 'interval', everySec: 3600 }, job },
        'user:alice',
      );
      // Stored before target branches were checked at submission: it still reads.
      const stored = { ...job, promotion: { mode: 'branch', targetBranch: 'refs/heads/main' } };
      await fixture.rawQuery(
        `update schedules set job_spec = '${JSON.stringify(stored)}' where name = 'old'`,
      );
      expect((await service.get('old')).schedule.name).toBe('old');
      const refused = await service.trigger('old', 'user:alice').then(
        () => null,
        (thrown: unknown) => thrown,
      );
      expect(isAasError(refused) && refused.details).toMatchObject({
        field: 'job.promotion.targetBranch',
      });
      expect(isAasError(refused) && refused.code).toBe('JOB_INVALID');
    });

    it('a resume that read the old timing does not overwrite a new timing written meanwhile', async () => {
      // A `once` whose time passes while it is paused: resumed from that timing it finishes.
      await service.create(
        { name: 'soon', timing: { kind: 'once', at: new Date(T0 + HOUR).toISOString() }, job },
        'user:alice',
      );
      await service.pause('soon', 'user:alice');
      clock.advance(2 * HOUR);
      const racing = new ScheduleService({
        store: storeWritingFirst(() =>
          service.update('soon', { timing: { kind: 'cron', cron: '0 9 * * *' } }, 'user:bob'),
        ),
        clock,
        bus: new EventBus(),
      });
      const resumed = await racing.resume('soon', 'user:alice');
      // Read again after bob's change: the next fire is the cron's next 09:00, not none.
      expect(resumed).toMatchObject({
        state: 'active',
        timing: { kind: 'cron', cron: '0 9 * * *' },
        nextFireAt: '2026-03-03T09:00:00.000Z',
      });
    });

    it('an update naming the version it read is refused once the schedule changed', async () => {
      const created = await service.create(
        { name: 'hourly', timing: { kind: 'interval', everySec: 3_600 }, job },
        'user:alice',
      );
      await service.update('hourly', { misfire: 'skip' }, 'user:bob');
      const stale = await service
        .update(
          'hourly',
          { job: { ...job, task: 'stale edit' }, expectedVersion: created.version },
          'user:alice',
        )
        .catch((thrown: unknown) => thrown);
      expect(isAasError(stale) && stale.code).toBe('CONFLICT');
      const current = (await service.get('hourly')).schedule;
      expect(current.job).toMatchObject({ task: 'nightly triage' });
      const updated = await service.update(
        'hourly',
        { job: { ...job, task: 'fresh edit' }, expectedVersion: current.version },
        'user:alice',
      );
      expect(updated.job).toMatchObject({ task: 'fresh edit' });
    });
  });
}
