import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import * as initial from '../../src/store/migrations/0001-initial.js';
import { storeDialects } from './dialects.js';
import { databaseMigratedTo, type OldDatabase } from './old-database.js';
import { claim, runId, sessionId } from './queue-helpers.js';

/**
 * Upgrading a database written under 0001 only: the queue columns get their defaults, each run
 * its session's repo, and the label index every session's labels (more sessions than one
 * backfill page).
 */

const SESSIONS = 1_203;
const PAGE = 400;

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`migration 0002 on ${dialect.name}`, () => {
    let old: OldDatabase | undefined;
    let store: Store | undefined;

    afterEach(async () => {
      await store?.close();
      await old?.cleanup();
    });

    it('backfills repos and labels and leaves every run claimable as before', async () => {
      old = await databaseMigratedTo(dialect.name, { '0001-initial': initial });

      const at = '2026-01-01T00:00:00.000Z';
      const labelsOf = (n: number) =>
        n === 1 ? ['a', 'b', 'a'] : n === 2 ? [] : [`l${n % 3}`, 'all'];
      for (let first = 1; first <= SESSIONS; first += PAGE) {
        const ns = Array.from(
          { length: Math.min(PAGE, SESSIONS - first + 1) },
          (_, i) => first + i,
        );
        await old.db
          .insertInto('sessions' as never)
          .values(
            ns.map((n) => ({
              id: sessionId(n),
              created_at: at,
              updated_at: at,
              task: `task ${n}`,
              repo: `/repos/r${n % 5}`,
              agent: 'mock',
              requested_by: 'alice',
              labels: JSON.stringify(labelsOf(n)),
              status: 'queued',
              reason_code: null,
              last_seq: 0,
              last_hash: '0'.repeat(64),
            })) as never,
          )
          .execute();
        await old.db
          .insertInto('runs' as never)
          .values(
            ns.map((n) => ({
              id: runId(n),
              session_id: sessionId(n),
              status: 'queued',
              job_spec: '{}',
              created_at: at,
              updated_at: at,
              version: 1,
            })) as never,
          )
          .execute();
      }

      store = await old.openStore();
      expect(await store.getRun(runId(7))).toMatchObject({
        repo: '/repos/r2',
        priority: 0,
        fencingToken: 0,
        claimCount: 0,
        maxClaims: 1,
        notBefore: null,
        cancelRequestedAt: null,
        cancelRequestedBy: null,
      });
      expect((await store.listSessions({ label: 'a' })).map((s) => s.id)).toEqual([sessionId(1)]);
      expect((await store.getSession(sessionId(1)))?.labels).toEqual(['a', 'b', 'a']);
      expect(await store.listSessions({ label: 'all' })).toHaveLength(SESSIONS - 2);
      const l1 = await store.listSessions({ label: 'l1', repo: '/repos/r0', limit: 2 });
      expect(l1.map((s) => s.id)).toEqual([sessionId(1_195), sessionId(1_180)]);
      expect((await store.countRunsByStatus()).queued).toBe(SESSIONS);
      expect((await claim(store, 'worker-1'))?.run).toMatchObject({
        id: runId(1),
        fencingToken: 1,
        repo: '/repos/r1',
      });
    });
  });
}
