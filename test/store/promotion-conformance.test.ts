import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import type { NewApproval, Store } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from './dialects.js';
import { at, attemptId, createQueuedRun, event, runId, sessionId } from './queue-helpers.js';

/**
 * The promotion half of the store port on both dialects: approvals bound to a patch and an
 * attempt, the writer lease (one holder, tokens that only grow, takeover after expiry), and
 * promotion steps fenced by that lease.
 */

const PATCH = 'a'.repeat(64);
const OTHER_PATCH = 'b'.repeat(64);
const KEY = 'main /repos/demo';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const outcome = await promise.then(
    () => 'resolved',
    (error: unknown) => (isAasError(error) ? error.code : String(error)),
  );
  return outcome;
}

/** Run n, claimed, with one finished attempt and a recorded patch, ready for promotion. */
async function readyRun(store: Store, n: number): Promise<void> {
  await createQueuedRun(store, n);
  const claimed = await store.claimRun({
    owner: 'worker-1',
    nowIso: at(n * 1_000 + 1),
    leaseExpiresAt: at(n * 1_000 + 60_000),
    runId: runId(n),
    events: () => [event('run.started', n * 1_000 + 1)],
  });
  if (claimed === null) throw new Error('claim failed');
  await store.createAttempt({
    attempt: {
      id: attemptId(n),
      runId: runId(n),
      number: 1,
      agentId: 'mock',
      startedAt: at(n * 1_000 + 2),
    },
    events: [event('run.attempt.started', n * 1_000 + 2)],
  });
  await store.finishAttempt({
    attemptId: attemptId(n),
    status: 'succeeded',
    reasonCode: 'GATES_PASSED',
    finishedAt: at(n * 1_000 + 3),
    detail: {},
    events: [event('run.attempt.finished', n * 1_000 + 3)],
  });
  await store.updateRun({
    runId: runId(n),
    changes: {
      status: 'ready_for_promotion',
      reasonCode: 'GATES_PASSED',
      patchSha256: PATCH,
      leaseOwner: null,
      leaseExpiresAt: null,
    },
    events: [event('run.completed', n * 1_000 + 4)],
  });
}

function approval(n: number, overrides: Partial<NewApproval> = {}): NewApproval {
  return {
    id: `apr_${n.toString(16).padStart(24, '0')}`,
    runId: runId(1),
    sessionId: sessionId(1),
    attemptNumber: 1,
    patchSha256: PATCH,
    repo: '/repos/demo',
    targetBranch: 'main',
    decision: 'approved',
    note: `note ${n}`,
    decidedBy: `approver-${n}`,
    tokenId: null,
    createdAt: at(10_000 + n),
    expiresAt: at(10_000_000),
    ...overrides,
  };
}

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`promotion store conformance: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await dialect.open();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('approvals', () => {
      it('records a decision with its event, bound to the patch and attempt, newest first', async () => {
        await readyRun(store, 1);
        const first = await store.recordApproval({
          approval: approval(1),
          guard: { status: ['ready_for_promotion'], patchSha256: PATCH, attemptNumber: 1 },
          events: [event('approval.recorded', 10_001)],
        });
        expect(first.approval).toMatchObject({ decidedBy: 'approver-1', voidedAt: null });
        expect(first.events.map((e) => e.type)).toEqual(['approval.recorded']);
        await store.recordApproval({
          approval: approval(2),
          guard: { status: ['ready_for_promotion'], patchSha256: PATCH },
          events: [],
        });
        const listed = await store.listApprovals({ runId: runId(1) });
        expect(listed.map((a) => a.decidedBy)).toEqual(['approver-2', 'approver-1']);
        expect(await store.listApprovals({ limit: 1 })).toHaveLength(1);
        await expect(store.listApprovals({ runId: runId(404) })).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
      });

      it('refuses a decision on another digest, attempt or status, writing nothing', async () => {
        await readyRun(store, 1);
        const before = await store.getSession(sessionId(1));
        for (const guard of [
          { status: ['ready_for_promotion' as const], patchSha256: OTHER_PATCH },
          { status: ['ready_for_promotion' as const], attemptNumber: 2 },
          { status: ['awaiting_approval' as const] },
        ]) {
          expect(
            await codeOf(
              store.recordApproval({
                approval: approval(1),
                guard,
                events: [event('approval.recorded', 10_001)],
              }),
            ),
          ).toBe('CONFLICT');
        }
        expect(await store.listApprovals({ runId: runId(1) })).toEqual([]);
        expect(await store.getSession(sessionId(1))).toEqual(before);
      });

      it('one approver decides a patch once, even when its decisions arrive at the same time', async () => {
        await readyRun(store, 1);
        // Several stores (connections) as well as several calls on one: the check and the
        // insert must be one step however the requests reach the database.
        const stores = [store, store, await fixture.openAnother(), await fixture.openAnother()];
        const decide = (n: number, decision: 'approved' | 'rejected', on: Store) =>
          on.recordApproval({
            approval: approval(n, { decidedBy: 'approver-x', decision }),
            guard: { status: ['ready_for_promotion'], patchSha256: PATCH, attemptNumber: 1 },
            ...(decision === 'rejected'
              ? { runChanges: { status: 'blocked' as const, reasonCode: 'APPROVAL_REJECTED' } }
              : {}),
            events: [event('approval.recorded', 10_000 + n)],
          });
        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            decide(
              i + 1,
              i % 2 === 0 ? 'approved' : 'rejected',
              stores[i % stores.length] ?? store,
            ),
          ),
        );
        const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        for (const outcome of refused) {
          expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'CONFLICT' });
        }
        const listed = await store.listApprovals({ runId: runId(1) });
        expect(listed).toHaveLength(1);
        // Refused because of the standing decision when the run still accepts decisions.
        const [kept] = listed;
        if (kept?.decision === 'approved') {
          await expect(decide(20, 'approved', store)).rejects.toMatchObject({
            code: 'CONFLICT',
            message: `approver-x already approved this patch (${kept.id})`,
            details: { approvalId: kept.id },
          });
        }
      });

      it('an expired approval no longer stands: its approver may approve the patch again', async () => {
        await readyRun(store, 1);
        const guard = { status: ['ready_for_promotion' as const], patchSha256: PATCH };
        await store.recordApproval({
          approval: approval(1, { decidedBy: 'approver-x', expiresAt: at(10_005) }),
          guard,
          events: [],
        });
        const again = await store.recordApproval({
          approval: approval(2, { decidedBy: 'approver-x', createdAt: at(10_005) }),
          guard,
          events: [],
        });
        expect(again.approval.decidedBy).toBe('approver-x');
        // Another approver is not affected by approver-x's decisions.
        await store.recordApproval({ approval: approval(3), guard, events: [] });
        expect(await store.listApprovals({ runId: runId(1) })).toHaveLength(3);
      });

      it('a rejection ends the run in the same transaction, mirrored on the session', async () => {
        await readyRun(store, 1);
        const { run } = await store.recordApproval({
          approval: approval(1, { decision: 'rejected' }),
          guard: { status: ['ready_for_promotion'], patchSha256: PATCH },
          runChanges: { status: 'blocked', reasonCode: 'APPROVAL_REJECTED' },
          events: [event('approval.recorded', 10_001)],
        });
        expect(run).toMatchObject({ status: 'blocked', reasonCode: 'APPROVAL_REJECTED' });
        expect(await store.getSession(sessionId(1))).toMatchObject({
          status: 'blocked',
          reasonCode: 'APPROVAL_REJECTED',
        });
      });

      it('a new attempt voids standing approvals and records approval.voided', async () => {
        await readyRun(store, 1);
        await store.recordApproval({
          approval: approval(1),
          guard: { status: ['ready_for_promotion'] },
          events: [],
        });
        // The run goes back to work (as a re-run would) and starts attempt 2.
        await store.updateRun({
          runId: runId(1),
          changes: { status: 'running' },
          events: [event('run.started', 20_000)],
        });
        const stored = await store.createAttempt({
          attempt: {
            id: attemptId(2),
            runId: runId(1),
            number: 2,
            agentId: 'mock',
            startedAt: at(20_001),
          },
          events: [event('run.attempt.started', 20_001)],
        });
        expect(stored.map((e) => e.type)).toEqual(['run.attempt.started', 'approval.voided']);
        expect(stored[1]?.data).toMatchObject({ approvalIds: [approval(1).id] });
        const [voided] = await store.listApprovals({ runId: runId(1) });
        expect(voided?.voidedAt).toBe(at(20_001));
        expect(voided?.voidReason).toMatch(/attempt 2 started/);
        // A further attempt has nothing left to void.
        await store.finishAttempt({
          attemptId: attemptId(2),
          status: 'failed',
          reasonCode: 'AGENT_FAILED',
          finishedAt: at(20_002),
          detail: {},
          events: [],
        });
        const third = await store.createAttempt({
          attempt: {
            id: attemptId(3),
            runId: runId(1),
            number: 3,
            agentId: 'mock',
            startedAt: at(20_003),
          },
          events: [event('run.attempt.started', 20_003)],
        });
        expect(third.map((e) => e.type)).toEqual(['run.attempt.started']);
      });
    });

    describe('writer lease', () => {
      it('has one holder; tokens grow with every acquisition; an expired lease is taken over', async () => {
        const first = await store.acquireWriterLease({
          key: KEY,
          owner: 'p1',
          runId: runId(1),
          nowIso: at(0),
          expiresAt: at(30_000),
        });
        expect(first).toMatchObject({ owner: 'p1', fencingToken: 1 });
        expect(
          await store.acquireWriterLease({
            key: KEY,
            owner: 'p2',
            runId: runId(2),
            nowIso: at(10_000),
            expiresAt: at(40_000),
          }),
        ).toBeNull();
        const fence1 = { key: KEY, owner: 'p1', fencingToken: 1 };
        expect(await store.renewWriterLease(fence1, at(20_000), at(50_000))).toBe(true);
        // Still held at 40 s thanks to the renewal.
        expect(
          await store.acquireWriterLease({
            key: KEY,
            owner: 'p2',
            runId: runId(2),
            nowIso: at(40_000),
            expiresAt: at(70_000),
          }),
        ).toBeNull();
        const taken = await store.acquireWriterLease({
          key: KEY,
          owner: 'p2',
          runId: runId(2),
          nowIso: at(50_000),
          expiresAt: at(80_000),
        });
        expect(taken).toMatchObject({ owner: 'p2', fencingToken: 2, runId: runId(2) });
        // The old holder can neither renew nor release any more.
        expect(await store.renewWriterLease(fence1, at(50_001), at(90_000))).toBe(false);
        expect(await store.releaseWriterLease(fence1, at(50_001))).toBe(false);
        const fence2 = { key: KEY, owner: 'p2', fencingToken: 2 };
        expect(await store.releaseWriterLease(fence2, at(60_000))).toBe(true);
        const third = await store.acquireWriterLease({
          key: KEY,
          owner: 'p3',
          runId: null,
          nowIso: at(60_000),
          expiresAt: at(90_000),
        });
        expect(third?.fencingToken).toBe(3);
        expect(await store.getWriterLease(KEY)).toMatchObject({ owner: 'p3', fencingToken: 3 });
        expect(await store.getWriterLease('other')).toBeNull();
      });

      it('many stores racing for one key: exactly one wins', async () => {
        const others = await Promise.all(Array.from({ length: 6 }, () => fixture.openAnother()));
        const results = await Promise.all(
          [store, ...others].flatMap((s, i) =>
            Array.from({ length: 4 }, (_, j) =>
              s.acquireWriterLease({
                key: KEY,
                owner: `racer-${i}-${j}`,
                runId: null,
                nowIso: at(0),
                expiresAt: at(30_000),
              }),
            ),
          ),
        );
        const winners = results.filter((r) => r !== null);
        expect(winners).toHaveLength(1);
        expect(winners[0]?.fencingToken).toBe(1);
      });
    });

    describe('promotion steps', () => {
      it('create once, resume, fence by the writer lease, and change the run atomically', async () => {
        await readyRun(store, 1);
        const lease = await store.acquireWriterLease({
          key: KEY,
          owner: 'p1',
          runId: runId(1),
          nowIso: at(30_000),
          expiresAt: at(60_000),
        });
        if (lease === null) throw new Error('no lease');
        const fence = { key: KEY, owner: 'p1', fencingToken: lease.fencingToken };
        const create = {
          runId: runId(1),
          requestedMode: 'branch',
          state: 'requested',
          requestedBy: 'alice',
          targetBranch: 'main',
          startedAt: at(30_000),
          detail: { checks: [] },
        };
        const first = await store.recordPromotionStep({
          runId: runId(1),
          lease: { fence, nowIso: at(30_001) },
          guard: { status: ['ready_for_promotion'] },
          create,
          runChanges: { status: 'promoting' },
          updatedAt: at(30_001),
          events: [event('promotion.started', 30_001)],
        });
        expect(first.promotion).toMatchObject({ state: 'requested', version: 1 });
        expect(first.run.status).toBe('promoting');
        // A retry with `create` keeps the record as it is.
        const again = await store.recordPromotionStep({
          runId: runId(1),
          lease: { fence, nowIso: at(30_002) },
          create: { ...create, startedAt: at(99_999) },
          changes: { state: 'committed', commitSha: 'c'.repeat(40), mode: 'branch' },
          expectVersion: 1,
          updatedAt: at(30_002),
          events: [event('promotion.committed', 30_002)],
        });
        expect((await store.listUnfinishedPromotions(10)).map((p) => p.runId)).toEqual([runId(1)]);
        expect(again.promotion).toMatchObject({
          state: 'committed',
          startedAt: at(30_000),
          commitSha: 'c'.repeat(40),
          version: 2,
        });
        expect(
          await codeOf(
            store.recordPromotionStep({
              runId: runId(1),
              lease: { fence, nowIso: at(30_003) },
              changes: { state: 'pushed' },
              expectVersion: 1,
              updatedAt: at(30_003),
              events: [],
            }),
          ),
        ).toBe('CONFLICT');

        // Once the lease expires and another writer takes it, the old holder writes nothing.
        await store.acquireWriterLease({
          key: KEY,
          owner: 'p2',
          runId: runId(1),
          nowIso: at(60_000),
          expiresAt: at(90_000),
        });
        const before = await store.getSession(sessionId(1));
        expect(
          await codeOf(
            store.recordPromotionStep({
              runId: runId(1),
              lease: { fence, nowIso: at(60_001) },
              changes: { state: 'pushed' },
              runChanges: { status: 'promoted' },
              updatedAt: at(60_001),
              events: [event('promotion.completed', 60_001)],
            }),
          ),
        ).toBe('LEASE_FENCED');
        expect(await store.getSession(sessionId(1))).toEqual(before);
        expect((await store.getPromotion(runId(1)))?.state).toBe('committed');
        // A run no longer promoting has nothing to resume, whatever its record says.
        await store.updateRun({ runId: runId(1), changes: { status: 'promoted' }, events: [] });
        expect(await store.listUnfinishedPromotions(10)).toEqual([]);
        expect(await store.getPromotion(runId(404))).toBeNull();
        // Without `create` there is nothing to resume.
        expect(
          await codeOf(
            store.recordPromotionStep({ runId: runId(1), updatedAt: at(1), events: [] }),
          ),
        ).toBe('resolved');
        await readyRun(store, 2);
        expect(
          await codeOf(
            store.recordPromotionStep({ runId: runId(2), updatedAt: at(1), events: [] }),
          ),
        ).toBe('NOT_FOUND');
      });
    });
  });
}
