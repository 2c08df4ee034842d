import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimStartedEvent, type RunRecord, type Store } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from './dialects.js';
import {
  at,
  claim,
  createQueuedRun,
  event,
  expectCode,
  expectValidChain,
  finish,
  runId,
  sessionId,
} from './queue-helpers.js';

/**
 * Claims, heartbeats and run updates made at the same moment by many callers of one store: on
 * PostgreSQL these share statements (postgres-batches.ts), on SQLite they take turns. Either
 * way each caller must get exactly what it would get alone.
 */

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(
    `concurrent queue writes of one store: ${dialect.name}`,
    () => {
      let fixture: StoreFixture;
      let store: Store;

      beforeEach(async () => {
        fixture = await dialect.open();
        store = fixture.store;
      });

      afterEach(async () => {
        await fixture.cleanup();
      });

      async function claimedRuns(count: number): Promise<RunRecord[]> {
        const claimed = await Promise.all(
          Array.from({ length: count }, (_, index) => claim(store, `worker-${index}`)),
        );
        return claimed.map((one) => {
          if (one === null) throw new Error('nothing claimed');
          return one.run;
        });
      }

      it('hands concurrent claimers distinct runs, best first, each with its own run.started', async () => {
        for (let n = 1; n <= 12; n += 1) {
          await createQueuedRun(store, n, n === 12 ? { priority: 5 } : {});
        }
        const owners = Array.from({ length: 10 }, (_, index) => `worker-${index}`);
        const claimed = await Promise.all(owners.map((owner) => claim(store, owner)));
        const ids = claimed.map((one) => one?.run.id);
        expect(new Set(ids).size).toBe(10);
        // The best ten: the prioritised run, then the oldest nine.
        expect([...ids].sort()).toEqual([12, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(runId).sort());
        for (const [index, one] of claimed.entries()) {
          if (one === null) throw new Error('nothing claimed');
          const owner = owners[index] ?? '';
          expect(one.run).toMatchObject({
            status: 'running',
            leaseOwner: owner,
            fencingToken: 1,
            claimCount: 1,
          });
          const start = { owner, nowIso: at(3_600_000), leaseExpiresAt: at(3_660_000) };
          const expected = claimStartedEvent(one.run, start);
          expect(one.events).toHaveLength(1);
          expect(one.events[0]).toMatchObject({ ...expected, seq: 2 });
          const stored = await store.readEvents(one.run.sessionId);
          expect(stored.at(-1)).toEqual(one.events[0]);
          expectValidChain(stored, await store.getSession(one.run.sessionId));
          expect(await store.getSession(one.run.sessionId)).toMatchObject({ status: 'running' });
        }
        for (const n of [10, 11]) {
          expect(await store.getRun(runId(n))).toMatchObject({ status: 'queued', claimCount: 0 });
        }
      });

      it('hashes owners and times JSON must escape exactly as the chain does', async () => {
        await createQueuedRun(store, 1);
        await createQueuedRun(store, 2);
        const owners = ['wörker "one"\n\t\\ 日本 \u0001\u001f', 'emoji 🚀 </script> \u2028'];
        const claimed = await Promise.all(owners.map((owner) => claim(store, owner)));
        for (const one of claimed) {
          if (one === null) throw new Error('nothing claimed');
          expectValidChain(
            await store.readEvents(one.run.sessionId),
            await store.getSession(one.run.sessionId),
          );
        }
        expect(claimed.map((one) => one?.run.leaseOwner).sort()).toEqual([...owners].sort());
      });

      it('gives two runs of one session to two concurrent claimers, chained one after the other', async () => {
        await createQueuedRun(store, 1);
        // Sessions get one run each through the store; a second one is written directly.
        await fixture.rawQuery(
          `INSERT INTO runs (id, session_id, status, job_spec, created_at, updated_at, version)
         VALUES ('${runId(2)}', '${sessionId(1)}', 'queued', '{}', '${at(5_000)}', '${at(5_000)}', 1)`,
        );
        const claimed = await Promise.all([claim(store, 'worker-a'), claim(store, 'worker-b')]);
        expect(claimed.map((one) => one?.run.id).sort()).toEqual([runId(1), runId(2)]);
        expectValidChain(
          await store.readEvents(sessionId(1)),
          await store.getSession(sessionId(1)),
        );
      });

      it('hands a reserved run to its owner among concurrent claimers, and to no one else', async () => {
        await createQueuedRun(store, 1, {
          reservedBy: { leaseOwner: 'runner-x', leaseExpiresAt: at(9_000_000) },
        });
        await createQueuedRun(store, 2, {
          reservedBy: { leaseOwner: 'runner-y', leaseExpiresAt: at(9_000_000) },
        });
        await createQueuedRun(store, 3);
        await createQueuedRun(store, 4);
        const owners = ['worker-a', 'runner-x', 'worker-b', 'worker-c'];
        const claimed = await Promise.all(owners.map((owner) => claim(store, owner)));
        expect(claimed.map((one) => one?.run.id ?? null)).toEqual([
          runId(3),
          runId(1),
          runId(4),
          null,
        ]);
        expect(await store.getRun(runId(2))).toMatchObject({
          status: 'queued',
          leaseOwner: 'runner-y',
        });
        const reserved = await claim(store, 'runner-y');
        expect(reserved?.run).toMatchObject({ id: runId(2), leaseOwner: 'runner-y' });
      });

      it('renews held leases and reports lost ones, in the same moment', async () => {
        for (let n = 1; n <= 4; n += 1) await createQueuedRun(store, n);
        const [a, b, c, d] = await claimedRuns(4);
        if (a === undefined || b === undefined || c === undefined || d === undefined) {
          throw new Error('four runs expected');
        }
        await fixture.rawQuery(
          `UPDATE runs SET cancel_requested_at = '${at(3_650_000)}' WHERE id = '${c.id}'`,
        );
        const fence = (run: RunRecord, token = run.fencingToken) => ({
          runId: run.id,
          leaseOwner: run.leaseOwner ?? '',
          fencingToken: token,
        });
        const renewals = await Promise.all([
          store.renewRunLease(fence(a), at(3_700_000)),
          store.renewRunLease(fence(b, 7), at(3_700_000)),
          store.renewRunLease({ ...fence(c), leaseOwner: 'someone-else' }, at(3_700_000)),
          store.renewRunLease(fence(d), at(3_700_000)),
          store.renewRunLease(fence(d), at(3_710_000)),
        ]);
        expect(renewals.map((renewal) => renewal.held)).toEqual([true, false, false, true, true]);
        expect(renewals.map((renewal) => renewal.cancelRequested)).toEqual([
          false,
          false,
          true,
          false,
          false,
        ]);
        expect(await store.getRun(a.id)).toMatchObject({ leaseExpiresAt: at(3_700_000) });
        expect(await store.getRun(b.id)).toMatchObject({ leaseExpiresAt: at(3_660_000) });
        expect((await store.getRun(d.id))?.leaseExpiresAt).toMatch(/^2026-01-01T01:01:(40|50)/);
        await expectCode(
          store.renewRunLease(fence({ ...a, id: 'run_missing' }), at(1)),
          'NOT_FOUND',
        );
      });

      it('finishes concurrent runs under their own fences: a stale fence is refused alone', async () => {
        for (let n = 1; n <= 6; n += 1) await createQueuedRun(store, n);
        const runs = await claimedRuns(6);
        const stale = runs[2];
        if (stale === undefined) throw new Error('six runs expected');
        const outcomes = await Promise.allSettled(
          runs.map((run) => finish(store, run === stale ? { ...run, fencingToken: 9 } : run)),
        );
        expect(outcomes.map((outcome) => outcome.status)).toEqual([
          'fulfilled',
          'fulfilled',
          'rejected',
          'fulfilled',
          'fulfilled',
          'fulfilled',
        ]);
        await expectCode(finish(store, { ...stale, fencingToken: 9 }), 'LEASE_FENCED');
        for (const run of runs) {
          expect(await store.getRun(run.id)).toMatchObject({
            status: run === stale ? 'running' : 'ready_for_promotion',
          });
          expectValidChain(
            await store.readEvents(run.sessionId),
            await store.getSession(run.sessionId),
          );
        }
      });

      it('keeps a caller whose claim or update the database refuses from failing the others', async () => {
        for (let n = 1; n <= 3; n += 1) await createQueuedRun(store, n);
        // PostgreSQL text cannot hold NUL: the statement carrying it is refused as a whole.
        const [good, bad] = await Promise.allSettled([
          claim(store, 'worker-1'),
          claim(store, 'worker-\u0000'),
        ]);
        expect(good).toMatchObject({ status: 'fulfilled', value: { run: { id: runId(1) } } });
        if (dialect.name === 'postgres') expect(bad.status).toBe('rejected');
        const [other] = await claimedRuns(1);
        if (good.status !== 'fulfilled' || good.value === null || other === undefined) {
          throw new Error('two claims expected');
        }
        const refused = { ...event('run.completed', 7_200_000), actor: 'tester\u0000' };
        const [finished, notFinished] = await Promise.allSettled([
          finish(store, good.value.run),
          store.updateRun({
            runId: other.id,
            expect: { status: ['running'], leaseOwner: other.leaseOwner ?? '', fencingToken: 1 },
            changes: { status: 'ready_for_promotion', finishedAt: at(7_200_000) },
            events: [refused],
          }),
        ]);
        expect(finished.status).toBe('fulfilled');
        expect(await store.getRun(good.value.run.id)).toMatchObject({
          status: 'ready_for_promotion',
        });
        if (dialect.name === 'postgres') {
          expect(notFinished.status).toBe('rejected');
          expect(await store.getRun(other.id)).toMatchObject({ status: 'running' });
        }
        for (const run of [good.value.run, other]) {
          expectValidChain(
            await store.readEvents(run.sessionId),
            await store.getSession(run.sessionId),
          );
        }
      });

      it('chains concurrent writes of one session one after the other', async () => {
        await createQueuedRun(store, 1);
        const [run] = await claimedRuns(1);
        if (run === undefined) throw new Error('nothing claimed');
        const fence = { runId: run.id, leaseOwner: run.leaseOwner ?? '', fencingToken: 1 };
        await Promise.all([
          store.updateRun({
            runId: run.id,
            expect: { status: ['running'], leaseOwner: fence.leaseOwner, fencingToken: 1 },
            changes: { summary: { step: 1 } },
            events: [event('note', 3_610_000, { step: 1 })],
          }),
          store.updateRun({
            runId: run.id,
            expect: { status: ['running'], leaseOwner: fence.leaseOwner, fencingToken: 1 },
            changes: { summary: { step: 2 } },
            events: [event('note', 3_620_000, { step: 2 })],
          }),
          finish(store, run),
        ]);
        const stored = await store.readEvents(sessionId(1));
        expect(stored.map((one) => one.type)).toEqual([
          'session.created',
          'run.started',
          'note',
          'note',
          'run.completed',
        ]);
        expectValidChain(stored, await store.getSession(sessionId(1)));
      });
    },
  );
}
