import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { storeDialects } from './dialects.js';
import { databaseMigratedBefore, type OldDatabase } from './old-database.js';

/**
 * Upgrading to 0011: a schedule's job keeps the author history knows, its creator, until
 * someone sets the job again; other changes leave the author alone.
 */

const AT = '2026-01-01T00:00:00.000Z';

/** A schedules row as code before 0011 writes it (no job_set_by). */
function scheduleRow(fields: {
  id: string;
  name: string;
  created_by: string;
  updated_by: string;
  version: number;
}) {
  return {
    kind: 'cron',
    at: null,
    every_sec: null,
    cron: '0 2 * * *',
    timezone: 'UTC',
    misfire: 'run_once',
    paused_at: null,
    job_spec: '{"task":"t","repo":"/repos/demo","agent":"mock"}',
    next_fire_at: '2026-01-02T02:00:00.000Z',
    created_at: AT,
    updated_at: AT,
    ...fields,
  };
}

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`migration 0011 on ${dialect.name}`, () => {
    let old: OldDatabase | undefined;
    let store: Store | undefined;

    afterEach(async () => {
      await store?.close();
      await old?.cleanup();
    });

    it("takes each existing schedule's creator as its job's author", async () => {
      old = await databaseMigratedBefore(dialect.name, '0011-schedule-job-author');
      await old.db
        .insertInto('schedules' as never)
        .values(
          scheduleRow({
            id: 'sch_0123456789abcdef01234567',
            name: 'nightly',
            created_by: 'user:alice',
            updated_by: 'user:bob',
            version: 3,
          }) as never,
        )
        .execute();

      store = await old.openStore();
      const id = 'sch_0123456789abcdef01234567';
      expect(await store.getSchedule(id)).toMatchObject({
        createdBy: 'user:alice',
        jobSetBy: 'user:alice',
      });
      await store.updateSchedule({
        id,
        changes: { pausedAt: AT },
        updatedAt: AT,
        updatedBy: 'user:carol',
      });
      expect((await store.getSchedule(id))?.jobSetBy).toBe('user:alice');
      await store.updateSchedule({
        id,
        changes: { jobSpec: { task: 'other', repo: '/repos/demo', agent: 'mock' } },
        updatedAt: AT,
        updatedBy: 'user:bob',
      });
      expect(await store.getSchedule(id)).toMatchObject({
        createdBy: 'user:alice',
        jobSetBy: 'user:bob',
      });
      // A replica still on the old code creates a schedule after the migration (a rolling
      // upgrade): the column keeps its default, and the creator stays the requester.
      await old.db
        .insertInto('schedules' as never)
        .values(
          scheduleRow({
            id: 'sch_0123456789abcdef01234568',
            name: 'from-an-older-replica',
            created_by: 'user:carol',
            updated_by: 'user:carol',
            version: 1,
          }) as never,
        )
        .execute();
      expect(await store.getSchedule('from-an-older-replica')).toMatchObject({
        createdBy: 'user:carol',
        jobSetBy: 'user:carol',
      });
    });
  });
}
