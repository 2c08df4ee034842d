import { type CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimRunInput } from '../../src/store/claim-candidates.js';
import type { DatabaseSchema } from '../../src/store/database-schema.js';
import {
  claimStartedEvent,
  type RunRecord,
  type Store,
  type WorkerMatch,
} from '../../src/store/index.js';
import { claimBatchOnPostgres } from '../../src/store/postgres-claim-batch.js';
import { claimLimitedBatchOnPostgres } from '../../src/store/postgres-limited-claim-batch.js';
import { updateRunsAtKnownHeads } from '../../src/store/postgres-run-update-batch.js';
import { renewRunLeases } from '../../src/store/renew-run-lease.js';
import { repoLockKey, repoLockKeySql } from '../../src/store/repo-lock-key.js';
import { runOperationAsync } from '../../src/store/sql-operation.js';
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
 * The queue's shortcuts on PostgreSQL, against both dialects where the outcome is the same: a
 * store's guess of a session head (postgres-run-update-batch.ts) may be stale, concurrent callers'
 * claims, renewals and updates share statements (postgres-batches.ts) that meet runs and
 * sessions other transactions hold, and prepared statements may go stale under a migration.
 * Each must end exactly as the locking path would.
 */

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`queue fast paths: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await dialect.open();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    /** Run 1 claimed by worker-1 through `store`, and another store on the same database. */
    async function claimedWithRival() {
      const other = await fixture.openAnother();
      await createQueuedRun(store, 1);
      const claimed = await claim(store, 'worker-1');
      if (claimed === null) throw new Error('nothing claimed');
      return { other, claimed };
    }

    async function expectChainOf(n: number): Promise<void> {
      expectValidChain(await store.readEvents(sessionId(n)), await store.getSession(sessionId(n)));
    }

    it('finishes after the head another store moved, chaining after it', async () => {
      const { other, claimed } = await claimedWithRival();
      // The session moves on behind this store's back: its known head is now stale.
      await other.appendEvents(sessionId(1), [event('agent.output', 1), event('agent.output', 2)]);
      const finished = await finish(store, claimed.run);
      expect(finished.run.status).toBe('ready_for_promotion');
      expect(finished.events.map((stored) => stored.seq)).toEqual([5]);
      await expectChainOf(1);
      // And the next write of this store, its head known again, chains after that one.
      const appended = await store.appendEvents(sessionId(1), [event('agent.output', 3)]);
      expect(appended.map((stored) => stored.seq)).toEqual([6]);
      await expectChainOf(1);
    });

    it('refuses a finish whose fence was lost while the head stayed, writing nothing', async () => {
      const { other, claimed } = await claimedWithRival();
      // The lease changes hands without an event: this store's head is still the head.
      await other.updateRun({
        runId: runId(1),
        expect: { status: ['running'] },
        changes: { leaseOwner: 'worker-2' },
        events: [],
      });
      const before = await store.readEvents(sessionId(1));
      await expectCode(finish(store, claimed.run), 'LEASE_FENCED');
      expect(await store.readEvents(sessionId(1))).toEqual(before);
      expect(await store.getRun(runId(1))).toMatchObject({
        status: 'running',
        leaseOwner: 'worker-2',
      });
      await expectChainOf(1);
    });

    it('refuses a finish whose status moved with the head, writing nothing', async () => {
      const { other, claimed } = await claimedWithRival();
      await other.updateRun({
        runId: runId(1),
        expect: { status: ['running'] },
        changes: { status: 'queued', leaseOwner: null, leaseExpiresAt: null },
        events: [event('run.requeued', 1)],
      });
      await expectCode(finish(store, claimed.run), 'LEASE_FENCED');
      expect((await store.readEvents(sessionId(1))).map((stored) => stored.type)).toEqual([
        'session.created',
        'run.started',
        'run.requeued',
      ]);
      await expectChainOf(1);
    });

    it('claims a run whose session another store wrote since it was queued', async () => {
      const other = await fixture.openAnother();
      await createQueuedRun(other, 1);
      await other.appendEvents(sessionId(1), [event('note', 1)]);
      const claimed = await claim(store, 'worker-1');
      expect(claimed?.events.map((stored) => stored.seq)).toEqual([3]);
      if (claimed === null) throw new Error('nothing claimed');
      await finish(store, claimed.run);
      await expectChainOf(1);
    });

    // Made at the same moment by many callers of one store: on PostgreSQL they share
    // statements (postgres-batches.ts), on SQLite they take turns. Each caller must get exactly
    // what it would get alone.

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

    it('hands concurrent claimers with a per-repo limit no more runs of a repo than it has room for', async () => {
      // Repo a: 4 queued, 1 already running; repo b: 4 queued; repo c: 1 queued. Limit 2.
      const repoOf = (n: number) => (n <= 5 ? '/repos/a' : n <= 9 ? '/repos/b' : '/repos/c');
      for (let n = 1; n <= 10; n += 1) await createQueuedRun(store, n, { repo: repoOf(n) });
      const busy = await claim(store, 'worker-busy', { runId: runId(1) });
      expect(busy?.run.id).toBe(runId(1));
      const owners = Array.from({ length: 8 }, (_, index) => `worker-${index}`);
      const claimed = await Promise.all(
        owners.map((owner) => claim(store, owner, { maxRunningPerRepo: 2 })),
      );
      const ids = claimed.flatMap((one) => (one === null ? [] : [one.run.id]));
      // The best runs that fit: one more of a, two of b, the one of c; the other claimers none.
      expect(ids.sort()).toEqual([2, 6, 7, 10].map(runId).sort());
      expect(claimed.filter((one) => one === null)).toHaveLength(4);
      for (const one of claimed) {
        if (one === null) continue;
        expect(one.run).toMatchObject({ status: 'running', fencingToken: 1, claimCount: 1 });
        expectValidChain(
          await store.readEvents(one.run.sessionId),
          await store.getSession(one.run.sessionId),
        );
      }
      expect(await store.countRunsByStatus()).toMatchObject({ running: 5, queued: 5 });
      // Room again once a run of a finishes: the next claim takes a's next run.
      if (busy === null) throw new Error('a claim expected');
      await finish(store, busy.run);
      expect((await claim(store, 'worker-next', { maxRunningPerRepo: 2 }))?.run.id).toBe(runId(3));
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
      expectValidChain(await store.readEvents(sessionId(1)), await store.getSession(sessionId(1)));
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

    for (const maxRunningPerRepo of [undefined, 10]) {
      it(`hands pinned runs only to their workers among concurrent claimers that differ only by pin (per-repo limit ${maxRunningPerRepo ?? 'none'})`, async () => {
        const pinnedTo: Record<number, string> = { 2: 'a', 3: 'a', 4: 'c', 5: 'b' };
        for (let n = 1; n <= 9; n += 1) {
          const pin = pinnedTo[n];
          const requirements =
            n === 7
              ? ['label:gpu']
              : n === 8
                ? ['worker:a', 'worker:b']
                : pin
                  ? [`worker:${pin}`]
                  : [];
          await createQueuedRun(store, n, { requirements, ...(n === 1 ? { priority: 5 } : {}) });
        }
        const worker = (name: string): WorkerMatch => ({
          offers: ['label:linux', `worker:${name}`],
          anyAgent: true,
        });
        const limit = maxRunningPerRepo === undefined ? {} : { maxRunningPerRepo };
        const claimAs = (name: string) => claim(store, name, { match: worker(name), ...limit });
        const names = ['a', 'b', 'd', 'e', 'f'];
        const claimed = await Promise.all(names.map(claimAs));
        const runOf = new Map<string, number>();
        for (const [index, one] of claimed.entries()) {
          const name = names[index] ?? '';
          // Claiming one at a time (SQLite), a takes the best run and f finds only a's left.
          if (one === null) continue;
          const n = Number.parseInt(one.run.id.slice(4), 16);
          runOf.set(name, n);
          // A run pinned to a worker goes to that worker; the others are anyone's.
          expect(pinnedTo[n] ?? name).toBe(name);
          expectValidChain(
            await store.readEvents(one.run.sessionId),
            await store.getSession(one.run.sessionId),
          );
        }
        if (dialect.name === 'postgres') {
          // One statement: each worker first gets a run pinned to it, the others go in order.
          expect(Object.fromEntries(runOf)).toEqual({ a: 2, b: 5, d: 1, e: 6, f: 9 });
        }
        // Workers a and b take what is left pinned to them, and nothing else.
        for (let turn = 0; turn < 3; turn += 1) {
          await Promise.all([claimAs('a'), claimAs('b'), claimAs('d')]);
        }
        const queued = [];
        for (let n = 1; n <= 9; n += 1) {
          if ((await store.getRun(runId(n)))?.status === 'queued') queued.push(n);
        }
        // Pinned to a worker that never asked, needing a label no one offers, pinned to two.
        expect(queued).toEqual([4, 7, 8]);
      });
    }

    it('keeps runs pinned to one worker at the head of the queue from holding up the others', async () => {
      for (let n = 1; n <= 6; n += 1) {
        await createQueuedRun(store, n, n <= 4 ? { requirements: ['worker:a'] } : {});
      }
      const claimAs = (name: string) =>
        claim(store, name, { match: { offers: [`worker:${name}`], anyAgent: true } });
      const claimed = await Promise.all([claimAs('a'), claimAs('d')]);
      expect(claimed.map((one) => one?.run.id)).toEqual([runId(1), runId(5)]);
    });

    it('hands a run reserved for an owner and pinned to a worker only to a claimer of both', async () => {
      await createQueuedRun(store, 1, {
        reservedBy: { leaseOwner: 'runner-x', leaseExpiresAt: at(9_000_000) },
        requirements: ['worker:b'],
      });
      const offering = (pin: string) => ({ match: { offers: [`worker:${pin}`], anyAgent: true } });
      const claimed = await Promise.all([
        claim(store, 'runner-x', offering('a')),
        claim(store, 'runner-y', offering('b')),
      ]);
      expect(claimed).toEqual([null, null]);
      expect((await claim(store, 'runner-x', offering('b')))?.run.id).toBe(runId(1));
    });

    it('ends the claims of one owner offering two pins, which a batch pairs with the wrong runs', async () => {
      // No worker claims so (its owner and its pin are both its own name); the store must still
      // end such claims: a batch hands neither run out, and asks again only so often.
      for (const [n, pin] of [
        [1, 'b'],
        [2, 'a'],
      ] as const) {
        await createQueuedRun(store, n, {
          reservedBy: { leaseOwner: 'runner-x', leaseExpiresAt: at(9_000_000) },
          requirements: [`worker:${pin}`],
        });
      }
      const offering = (pin: string) => ({ match: { offers: [`worker:${pin}`], anyAgent: true } });
      const claimed = await Promise.all([
        claim(store, 'runner-x', offering('a')),
        claim(store, 'runner-x', offering('b')),
      ]);
      expect(claimed.map((one) => one?.run.id)).toEqual([runId(2), runId(1)]);
    });

    it('claims the next run of a session whose first run no claimer may take', async () => {
      await createQueuedRun(store, 1, { requirements: ['worker:a', 'worker:b'] });
      await fixture.rawQuery(
        `INSERT INTO runs (id, session_id, status, job_spec, created_at, updated_at, version)
       VALUES ('${runId(2)}', '${sessionId(1)}', 'queued', '{}', '${at(5_000)}', '${at(5_000)}', 1)`,
      );
      const offering = (pin: string) => ({ match: { offers: [`worker:${pin}`], anyAgent: true } });
      const claimed = await Promise.all([
        claim(store, 'worker-a', offering('a')),
        claim(store, 'worker-b', offering('b')),
      ]);
      expect(claimed.map((one) => one?.run.id ?? null).sort()).toEqual([runId(2), null].sort());
      expect(await store.getRun(runId(1))).toMatchObject({ status: 'queued' });
    });

    it('under a per-repo limit, finds the run whose repo room a pinned run the batch left had taken', async () => {
      // Limit 2; repo r already runs one. Run 1 (repo s) and run 2 (repo r) are pinned to a,
      // run 1 the better; run 3 (repo r) is anyone's, and fits r's last slot.
      await createQueuedRun(store, 4, { repo: '/repos/r', createdAtMs: 0 });
      expect((await claim(store, 'worker-busy', { runId: runId(4) }))?.run.id).toBe(runId(4));
      await createQueuedRun(store, 1, {
        repo: '/repos/s',
        priority: 9,
        requirements: ['worker:a'],
      });
      await createQueuedRun(store, 2, {
        repo: '/repos/r',
        priority: 5,
        requirements: ['worker:a'],
      });
      await createQueuedRun(store, 3, { repo: '/repos/r' });
      const claimAs = (name: string) =>
        claim(store, `worker-${name}`, {
          maxRunningPerRepo: 2,
          match: { offers: [`worker:${name}`], anyAgent: true },
        });
      const claimed = await Promise.all(['a', 'd', 'e'].map(claimAs));
      const ids = claimed.map((one) => one?.run.id ?? null);
      expect(ids[0]).toBe(runId(1));
      expect(ids.slice(1).sort()).toEqual([runId(3), null].sort());
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
      await expectCode(store.renewRunLease(fence({ ...a, id: 'run_missing' }), at(1)), 'NOT_FOUND');
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
      const notes = await Promise.allSettled([
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
      // Updates and completions go in statements of their own kind, which may commit in
      // either order: a note that came after the completion is refused (the run no longer
      // runs under that fence), never chained after it or forked beside it.
      expect(notes[2]?.status).toBe('fulfilled');
      const written = notes.slice(0, 2).filter((note) => note.status === 'fulfilled').length;
      for (const note of notes.slice(0, 2)) {
        if (note.status === 'rejected') expect(note.reason).toMatchObject({ code: 'LEASE_FENCED' });
      }
      const stored = await store.readEvents(sessionId(1));
      expect(stored.map((one) => one.type)).toEqual([
        'session.created',
        'run.started',
        ...Array.from({ length: written }, () => 'note'),
        'run.completed',
      ]);
      expectValidChain(stored, await store.getSession(sessionId(1)));
    });
  });
}

const postgres = dialects.find((candidate) => candidate.name === 'postgres');

describe.skipIf(postgres?.available !== true)('queue fast paths: postgres only', () => {
  let fixture: StoreFixture;
  let store: Store;

  beforeEach(async () => {
    if (postgres === undefined) throw new Error('no postgres fixture');
    fixture = await postgres.open();
    store = fixture.store;
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  /** The store's own statements, compiled for this database and run on a client of the test's. */
  async function withKysely<T>(
    use: (db: Kysely<DatabaseSchema>, client: pg.Client) => Promise<T>,
  ): Promise<T> {
    const client = new pg.Client({ connectionString: fixture.databaseUrl });
    await client.connect();
    const db = new Kysely<DatabaseSchema>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ max: 1 }) }),
    });
    try {
      return await use(db, client);
    } finally {
      await client.end();
      await db.destroy();
    }
  }

  /**
   * One limited claim batch (limit 2) of workers offering their own names, committed: each
   * worker's claimed run id, or its outcome.
   */
  function limitedBatchOfWorkers(names: readonly string[]): Promise<string[]> {
    return withKysely(async (db, client) => {
      const execute = async (query: CompiledQuery) =>
        (await client.query(query.sql, [...query.parameters])).rows;
      const inputs = names.map((name) => ({
        owner: `worker-${name}`,
        nowIso: at(3_600_000),
        leaseExpiresAt: at(3_660_000),
        maxRunningPerRepo: 2,
        match: { offers: [`worker:${name}`], anyAgent: true },
      }));
      await client.query('BEGIN');
      const answers = await runOperationAsync(claimLimitedBatchOnPostgres(db, inputs), execute);
      await client.query('COMMIT');
      return answers.map((answer) =>
        answer.outcome === 'claimed' ? answer.claimed.run.id : answer.outcome,
      );
    });
  }

  /** Another client's transaction holding one row, until `commit`; `close` ends it either way. */
  async function holdRow(table: 'runs' | 'sessions', id: string) {
    const holder = new pg.Client({ connectionString: fixture.databaseUrl });
    await holder.connect();
    let open = true;
    const close = async () => {
      if (!open) return;
      open = false;
      await holder.end();
    };
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${table} WHERE id = $1 FOR NO KEY UPDATE`, [id]);
    } catch (error) {
      await close();
      throw error;
    }
    return { commit: async () => void (await holder.query('COMMIT')), close };
  }

  /** Runs 1 and 2 queued and claimed by two workers. */
  async function twoClaimed(): Promise<[RunRecord, RunRecord]> {
    for (const n of [1, 2]) await createQueuedRun(store, n);
    const [one, two] = await Promise.all([claim(store, 'worker-1'), claim(store, 'worker-2')]);
    if (one === null || two === null) throw new Error('two claims expected');
    return [one.run, two.run];
  }

  it('computes the repo lock key in SQL as repoLockKey does', async () => {
    const repos = ['/srv/repos/demo', "/it's/a repo", '/srv/ünïcödé/日本', ''];
    await withKysely(async (db, client) => {
      for (const repo of repos) {
        const query = sql<{ key: string }>`select ${repoLockKeySql('t.repo')} as key
          from (values (cast(${repo} as text))) as t(repo)`.compile(db);
        const { rows } = await client.query<{ key: string }>(query.sql, [...query.parameters]);
        expect(rows[0]?.key).toBe(repoLockKey(repo));
      }
    });
  });

  it('passes over a run whose session another transaction holds, and takes it once free', async () => {
    await createQueuedRun(store, 1);
    await createQueuedRun(store, 2);
    const held = await holdRow('sessions', sessionId(1));
    try {
      const [first, none] = await Promise.all([claim(store, 'worker-1'), claim(store, 'worker-2')]);
      expect(first?.run.id).toBe(runId(2));
      expect(none).toBeNull();
      expect(await store.getRun(runId(1))).toMatchObject({ status: 'queued', claimCount: 0 });
      await held.commit();
    } finally {
      await held.close();
    }
    expect((await claim(store, 'worker-2'))?.run.id).toBe(runId(1));
    for (const n of [1, 2]) {
      expectValidChain(await store.readEvents(sessionId(n)), await store.getSession(sessionId(n)));
    }
  });

  it('renews the leases no one else holds at once, and waits for the one another writer holds', async () => {
    const [one, two] = await twoClaimed();
    const holder = await holdRow('runs', one.id);
    try {
      const fenceOf = (run: RunRecord) => ({
        runId: run.id,
        leaseOwner: run.leaseOwner ?? '',
        fencingToken: run.fencingToken,
      });
      let heldRenewed = false;
      const held = store.renewRunLease(fenceOf(one), at(3_700_000)).then((renewal) => {
        heldRenewed = true;
        return renewal;
      });
      // In the same statement as the held run's renewal, and not kept waiting by it.
      const free = await store.renewRunLease(fenceOf(two), at(3_700_000));
      expect(free).toEqual({ held: true, cancelRequested: false });
      expect(heldRenewed).toBe(false);
      await holder.commit();
      expect(await held).toEqual({ held: true, cancelRequested: false });
    } finally {
      await holder.close();
    }
    for (const run of [one, two]) {
      expect(await store.getRun(run.id)).toMatchObject({ leaseExpiresAt: at(3_700_000) });
    }
  });

  it('renews leases without waiting for the WAL flush, for that statement alone', async () => {
    await createQueuedRun(store, 1);
    const claimed = await claim(store, 'worker-1');
    if (claimed === null) throw new Error('a claim expected');
    const request = {
      fence: {
        runId: claimed.run.id,
        leaseOwner: claimed.run.leaseOwner ?? '',
        fencingToken: claimed.run.fencingToken,
      },
      leaseExpiresAt: at(3_700_000),
    };
    await withKysely(async (db, client) => {
      const execute = async (query: CompiledQuery) =>
        (await client.query(query.sql, [...query.parameters])).rows;
      const setting = async () =>
        (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]
          ?.synchronous_commit;
      // Inside a transaction the statement's setting shows until the transaction ends.
      await client.query('BEGIN');
      expect(await runOperationAsync(renewRunLeases(db, [request]), execute)).toEqual([
        { held: true, cancelRequested: false },
      ]);
      expect(await setting()).toBe('off');
      await client.query('COMMIT');
      expect(await setting()).toBe('on');
      // On its own, as the store runs it: nothing is left for the connection's next statement.
      await runOperationAsync(renewRunLeases(db, [request]), execute);
      expect(await setting()).toBe('on');
    });
    expect(await store.getRun(claimed.run.id)).toMatchObject({ leaseExpiresAt: at(3_700_000) });
  });

  it('finishes the runs whose sessions no one else holds at once, and waits for the one held', async () => {
    const [one, two] = await twoClaimed();
    const holder = await holdRow('sessions', one.sessionId);
    try {
      let heldFinished = false;
      const held = finish(store, one).then((finished) => {
        heldFinished = true;
        return finished;
      });
      // In the same statement as the held session's update, and not kept waiting by it: a
      // transaction that hangs on one session must not stall every report of the process.
      const free = await finish(store, two);
      expect(free.run.status).toBe('ready_for_promotion');
      expect(heldFinished).toBe(false);
      await holder.commit();
      expect((await held).run.status).toBe('ready_for_promotion');
    } finally {
      await holder.close();
    }
    for (const run of [one, two]) {
      expectValidChain(
        await store.readEvents(run.sessionId),
        await store.getSession(run.sessionId),
      );
    }
  });

  it('finishes lone runs on a plan the connection keeps, instead of planning each finish', async () => {
    const runs: RunRecord[] = [];
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8]) {
      await createQueuedRun(store, n);
      const claimed = await claim(store, 'worker-1');
      if (claimed === null) throw new Error('a claim expected');
      runs.push(claimed.run);
    }
    await withKysely(async (db, client) => {
      // Prepared under one name, as the store's driver prepares its statements.
      const execute = async (query: CompiledQuery) =>
        (
          await client.query({
            name: 'lone_finish',
            text: query.sql,
            values: [...query.parameters],
          })
        ).rows;
      for (const run of runs) {
        const session = await store.getSession(run.sessionId);
        if (session === null) throw new Error('session expected');
        const [outcome] = await runOperationAsync(
          updateRunsAtKnownHeads(db, [
            {
              head: {
                sessionId: run.sessionId,
                lastSeq: session.lastSeq,
                lastHash: session.lastHash,
              },
              runId: run.id,
              expect: {
                status: ['running'],
                leaseOwner: 'worker-1',
                fencingToken: run.fencingToken,
              },
              changes: {
                status: 'ready_for_promotion',
                finishedAt: at(7_200_000),
                leaseOwner: null,
                leaseExpiresAt: null,
              },
              events: [event('run.completed', 7_200_000, { runId: run.id })],
            },
          ]),
          execute,
        );
        expect(outcome).toMatchObject({ applied: true });
      }
      // PostgreSQL plans a prepared statement for its values five times, then keeps its generic
      // plan only if that is estimated no dearer. A batch of one with the item count unknown to
      // the generic plan lost that comparison, so every lone finish was planned again (0.6–0.7 ms
      // of the server's time, more than executing it).
      const { rows } = await client.query<{ generic_plans: string; custom_plans: string }>(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'lone_finish'",
      );
      expect(rows).toHaveLength(1);
      expect(Number(rows[0]?.custom_plans)).toBeLessThanOrEqual(5);
      expect(Number(rows[0]?.generic_plans)).toBeGreaterThanOrEqual(3);
    });
    for (const run of runs) {
      expect(await store.getRun(run.id)).toMatchObject({ status: 'ready_for_promotion' });
      expectValidChain(
        await store.readEvents(run.sessionId),
        await store.getSession(run.sessionId),
      );
    }
  });

  it('passes over a repo whose claim lock another claim holds, without waiting for it', async () => {
    await createQueuedRun(store, 1, { repo: '/repos/held' });
    await createQueuedRun(store, 2, { repo: '/repos/free' });
    await createQueuedRun(store, 3, { repo: '/repos/free' });
    const holder = new pg.Client({ connectionString: fixture.databaseUrl });
    await holder.connect();
    try {
      // The lock a limited claim of that repo holds until its commit.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [repoLockKey('/repos/held')]);
      // Alone: the batch finds only the held repo's run and hands the claim to the single
      // claim, which passes over that repo to the next one.
      expect((await claim(store, 'worker-1', { maxRunningPerRepo: 2 }))?.run.id).toBe(runId(2));
      // Together: one takes the free repo's last run; the other finds only the held one.
      const claimed = await Promise.all(
        ['worker-2', 'worker-3'].map((owner) => claim(store, owner, { maxRunningPerRepo: 2 })),
      );
      expect(claimed.map((one) => one?.run.id ?? null).sort()).toEqual([runId(3), null].sort());
      expect(await store.getRun(runId(1))).toMatchObject({ status: 'queued', claimCount: 0 });
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    expect((await claim(store, 'worker-4', { maxRunningPerRepo: 2 }))?.run.id).toBe(runId(1));
  });

  it('claims a batch under a per-repo limit in one transaction, with a match or without', async () => {
    for (let n = 1; n <= 6; n += 1) await createQueuedRun(store, n, { repo: `/repos/r${n % 3}` });
    await withKysely(async (db, client) => {
      const execute = async (query: CompiledQuery) =>
        (await client.query(query.sql, [...query.parameters])).rows;
      const inputs = (owners: readonly string[], match?: WorkerMatch) =>
        owners.map((owner) => ({
          owner,
          nowIso: at(3_600_000),
          leaseExpiresAt: at(3_660_000),
          maxRunningPerRepo: 1,
          ...(match === undefined ? {} : { match }),
        }));
      const batch = async (claimers: readonly ClaimRunInput[]) => {
        await client.query('BEGIN');
        const answers = await runOperationAsync(claimLimitedBatchOnPostgres(db, claimers), execute);
        await client.query('COMMIT');
        return answers;
      };
      // Three repos, limit 1: two claimers with a worker's offers, then two without any match
      // (a statement of the same capacity, whose values differ).
      const withMatch = await batch(
        inputs(['worker-a', 'worker-b'], { offers: ['label:x'], anyAgent: true }),
      );
      expect(withMatch.map((answer) => answer.outcome)).toEqual(['claimed', 'claimed']);
      // r0 alone has room: one claim, and the other claimer asks again (the pick was full, so
      // more might have lain behind it)…
      const without = await batch(inputs(['worker-c', 'worker-d']));
      expect(without.map((answer) => answer.outcome).sort()).toEqual(['again', 'claimed']);
      // …and finds every repo full.
      expect((await batch(inputs(['worker-d']))).map((answer) => answer.outcome)).toEqual(['none']);
      const repos = [...withMatch, ...without].flatMap((answer) =>
        answer.outcome === 'claimed' ? [answer.claimed.run.repo] : [],
      );
      expect(repos.sort()).toEqual(['/repos/r0', '/repos/r1', '/repos/r2']);
    });
    expect(await store.countRunsByStatus()).toMatchObject({ running: 3, queued: 3 });
  });

  for (const maxRunningPerRepo of [undefined, 2]) {
    it(`claims for workers that differ only by their pins in one transaction (per-repo limit ${maxRunningPerRepo ?? 'none'})`, async () => {
      for (let n = 1; n <= 6; n += 1) {
        await createQueuedRun(store, n, {
          repo: `/repos/r${n % 3}`,
          ...(n === 3 ? { requirements: ['worker:c'] } : {}),
        });
      }
      const limit = maxRunningPerRepo === undefined ? {} : { maxRunningPerRepo };
      // As a server's worker slots claim: the same labels, each slot its own pin.
      const claimed = await Promise.all(
        ['a', 'b', 'c', 'd'].map((name) =>
          claim(store, `slot-${name}`, {
            match: { offers: ['label:linux', `worker:${name}`], anyAgent: true },
            ...limit,
          }),
        ),
      );
      expect(claimed.map((one) => one?.run.id)).toEqual([1, 2, 3, 4].map(runId));
      // Rows written by one transaction carry its id.
      const writers = await fixture.rawQuery(
        "SELECT DISTINCT xmin::text AS xid FROM runs WHERE status = 'running'",
      );
      expect(writers).toHaveLength(1);
    });
  }

  it('answers a claimer again only when a run it could have had was left, alone when others filled the pick', async () => {
    await createQueuedRun(store, 2, { requirements: ['worker:a'] });
    await createQueuedRun(store, 3, { requirements: ['worker:a'] });
    await createQueuedRun(store, 5, { requirements: ['worker:b'] });
    await createQueuedRun(store, 8, { requirements: ['worker:a', 'worker:b'] });
    await withKysely(async (db, client) => {
      const execute = async (query: CompiledQuery) =>
        (await client.query(query.sql, [...query.parameters])).rows;
      const batch = async (claimers: readonly [owner: string, pin: string][]) => {
        const inputs = claimers.map(([owner, pin]) => ({
          owner,
          nowIso: at(3_600_000),
          leaseExpiresAt: at(3_660_000),
          match: { offers: [`worker:${pin}`], anyAgent: true },
        }));
        const answers = await runOperationAsync(claimBatchOnPostgres(db, inputs), execute);
        return answers.map((answer) =>
          answer.outcome === 'claimed' ? answer.claimed.run.id : answer.outcome,
        );
      };
      const a: [string, string] = ['worker-a', 'a'];
      const a2: [string, string] = ['worker-a2', 'a'];
      const b: [string, string] = ['worker-b', 'b'];
      const d: [string, string] = ['worker-d', 'd'];
      // Runs 2 and 3 fill the pick, and only a may have them: d claims alone, looking further.
      expect(await batch([a, d])).toEqual([runId(2), 'alone']);
      // Another claimer of pin a asks with d, and gets run 3; the pick was not full: d has none.
      expect(await batch([d, a2])).toEqual(['none', runId(3)]);
      // Run 8 needs both pins: picked when a and b ask together, handed to neither.
      expect(await batch([a, b])).toEqual(['alone', runId(5)]);
      // A later run of run 8's session: run 8, which neither may take, no longer hides it.
      await fixture.rawQuery(
        `INSERT INTO runs (id, session_id, status, job_spec, created_at, updated_at, version)
       VALUES ('${runId(10)}', '${sessionId(8)}', 'queued', '{}', '${at(50_000)}', '${at(50_000)}', 1)`,
      );
      expect(await batch([a, b])).toEqual([runId(10), 'alone']);
    });
    expect(await store.getRun(runId(8))).toMatchObject({ status: 'queued' });
  });

  it('keeps a run no claimer of a limited batch may take from using up its repo room', async () => {
    // Limit 2; repo r already runs one. Run 1 needs both a and b; run 3 is anyone's.
    await createQueuedRun(store, 4, { repo: '/repos/r', createdAtMs: 0 });
    expect((await claim(store, 'worker-busy', { runId: runId(4) }))?.run.id).toBe(runId(4));
    await createQueuedRun(store, 1, { repo: '/repos/r', requirements: ['worker:a', 'worker:b'] });
    await createQueuedRun(store, 3, { repo: '/repos/r' });
    // Run 1 is picked (a and b together offer both) but goes to no one: run 3 takes r's room,
    // and the others are told there is nothing for them (the pick was not full).
    expect(await limitedBatchOfWorkers(['a', 'b', 'd'])).toEqual([runId(3), 'none', 'none']);
    expect(await store.getRun(runId(1))).toMatchObject({ status: 'queued' });
  });

  it('sends claimers alone when runs pinned to another filled the pick of a limited batch', async () => {
    for (let n = 1; n <= 6; n += 1) {
      await createQueuedRun(store, n, {
        repo: `/repos/r${n}`,
        ...(n <= 4 ? { requirements: ['worker:a'] } : {}),
      });
    }
    // The pick (4 runs) holds only a's: d and e take the single claim, which looks further.
    expect(await limitedBatchOfWorkers(['a', 'd', 'e'])).toEqual([runId(1), 'alone', 'alone']);
  });

  it('claims the run reserved for the owner that names it, in one statement or the other', async () => {
    await createQueuedRun(store, 1, {
      reservedBy: { leaseOwner: 'runner-x', leaseExpiresAt: at(9_000_000) },
    });
    expect(await claim(store, 'worker-1')).toBeNull();
    const byId = await claim(store, 'runner-x', { runId: runId(1) });
    expect(byId?.events[0]).toMatchObject({ type: 'run.started', actor: 'runner-x' });
    expectValidChain(await store.readEvents(sessionId(1)), await store.getSession(sessionId(1)));
  });

  it('keeps claiming, renewing and finishing after another process adds a column', async () => {
    for (const n of [1, 2, 3, 4]) await createQueuedRun(store, n);
    // Every shape of claim and finish, prepared on the store's connection…
    const first = await claim(store, 'worker-1');
    const limited = await claim(store, 'worker-1', { maxRunningPerRepo: 5 });
    if (first === null || limited === null) throw new Error('nothing claimed');
    await finish(store, first.run);
    await finish(store, limited.run);
    // …then a migration elsewhere changes what `RETURNING *` and `SELECT *` return.
    await fixture.rawQuery('ALTER TABLE runs ADD COLUMN added_elsewhere text');
    // First inside a transaction (aborted by the stale statement, then run again unprepared).
    const limitedAgain = await claim(store, 'worker-1', { maxRunningPerRepo: 5 });
    const again = await claim(store, 'worker-1');
    if (again === null || limitedAgain === null) throw new Error('nothing claimed');
    const fence = { runId: again.run.id, leaseOwner: 'worker-1', fencingToken: 1 };
    expect(await store.renewRunLease(fence, at(3_700_000))).toMatchObject({ held: true });
    await finish(store, again.run);
    await finish(store, limitedAgain.run);
    for (const n of [1, 2, 3, 4]) {
      expect(await store.getRun(runId(n))).toMatchObject({ status: 'ready_for_promotion' });
    }
  });
});
