import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import {
  type HeldFence,
  type NewToken,
  RUN_STATUSES,
  type RunRecord,
  type Store,
} from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from './dialects.js';
import {
  at,
  attemptId,
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
 * The queue and token operations of the store, run against every dialect like the main
 * conformance suite. Concurrency proofs live in queue-concurrency.test.ts.
 */

const NOW = 3_600_000;

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`queue conformance: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await dialect.open();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    async function claimedIds(owner: string, options: { maxRunningPerRepo?: number } = {}) {
      const ids: string[] = [];
      for (;;) {
        const claimed = await claim(store, owner, options);
        if (claimed === null) return ids;
        ids.push(claimed.run.id);
      }
    }

    describe('createSession', () => {
      it('copies the repo, stores priority and claim budget, defaults 0 and 1', async () => {
        await createQueuedRun(store, 1, { repo: '/repos/a', priority: 7, maxClaims: 3 });
        await createQueuedRun(store, 2, { repo: '/repos/b' });
        expect(await store.getRun(runId(1))).toMatchObject({
          repo: '/repos/a',
          priority: 7,
          maxClaims: 3,
          fencingToken: 0,
          claimCount: 0,
          notBefore: null,
          cancelRequestedAt: null,
          cancelRequestedBy: null,
        });
        expect(await store.getRun(runId(2))).toMatchObject({
          repo: '/repos/b',
          priority: 0,
          maxClaims: 1,
        });
      });

      it('refuses a priority or claim budget PostgreSQL could not hold, writing nothing', async () => {
        for (const run of [
          { priority: 1.5 },
          { priority: 2 ** 31 },
          { maxClaims: 0 },
          { maxClaims: Number.NaN },
        ]) {
          await expectCode(
            store.createSession({
              session: {
                id: sessionId(1),
                createdAt: at(0),
                task: 't',
                repo: '/r',
                agent: 'mock',
                requestedBy: 'alice',
                labels: [],
              },
              run: { id: runId(1), createdAt: at(0), jobSpec: {}, ...run },
              events: [],
            }),
            'INVALID_ARGUMENT',
          );
        }
        expect(await store.listSessionIds()).toEqual([]);
      });
    });

    describe('claimRun', () => {
      it('claims by priority, then age, then id, and returns null when the queue is empty', async () => {
        await createQueuedRun(store, 1, { priority: 0, createdAtMs: 1_000 });
        await createQueuedRun(store, 2, { priority: 5, createdAtMs: 2_000 });
        await createQueuedRun(store, 3, { priority: 5, createdAtMs: 1_500 });
        await createQueuedRun(store, 4, { priority: 0, createdAtMs: 1_000 });
        await createQueuedRun(store, 5, { priority: -1, createdAtMs: 0 });
        await createQueuedRun(store, 6, { priority: 0, createdAtMs: 500 });
        expect(await claimedIds('worker-1')).toEqual([3, 2, 6, 1, 4, 5].map(runId));
        expect(await claim(store, 'worker-1')).toBeNull();
      });

      it('sets the lease, start, token, claim count and version, clears notBefore, and appends events', async () => {
        await createQueuedRun(store, 1);
        await store.appendEvents(sessionId(1), [event('note', 10)]);
        await store.updateRun({
          runId: runId(1),
          changes: { notBefore: at(NOW - 1), reasonCode: 'INTERRUPTED' },
          events: [event('run.requeued', 20)],
        });
        let seen: RunRecord | undefined;
        const claimed = await store.claimRun({
          owner: 'worker-1',
          nowIso: at(NOW),
          leaseExpiresAt: at(NOW + 60_000),
          events: (run) => {
            seen = run;
            return [event('run.started', NOW, { token: run.fencingToken }), event('x', NOW + 5)];
          },
        });
        const stored = await store.getRun(runId(1));
        expect(claimed?.run).toEqual(stored);
        expect(stored).toMatchObject({
          status: 'running',
          leaseOwner: 'worker-1',
          leaseExpiresAt: at(NOW + 60_000),
          startedAt: at(NOW),
          // The last event dates the change.
          updatedAt: at(NOW + 5),
          fencingToken: 1,
          claimCount: 1,
          version: 3,
          notBefore: null,
        });
        // The callback saw the claimed run, dated by the claim itself.
        expect(seen).toEqual({ ...claimed?.run, updatedAt: at(NOW) });
        expect(claimed?.events.map((e) => [e.seq, e.type, e.data])).toEqual([
          [4, 'run.started', { token: 1 }],
          [5, 'x', {}],
        ]);
        const session = await store.getSession(sessionId(1));
        expect(session).toMatchObject({
          status: 'running',
          reasonCode: 'INTERRUPTED',
          updatedAt: at(NOW + 5),
        });
        const chain = await store.readEvents(sessionId(1));
        expect(chain.slice(3)).toEqual(claimed?.events);
        expectValidChain(chain, session);
      });

      it('claims nothing and writes nothing when the events callback throws', async () => {
        await createQueuedRun(store, 1);
        const before = await store.getRun(runId(1));
        await expect(
          store.claimRun({
            owner: 'worker-1',
            nowIso: at(NOW),
            leaseExpiresAt: at(NOW + 1),
            events: () => {
              throw new Error('boom');
            },
          }),
        ).rejects.toThrow('boom');
        expect(await store.getRun(runId(1))).toEqual(before);
        expect(await store.readEvents(sessionId(1))).toHaveLength(1);
      });

      it('waits for notBefore (inclusive)', async () => {
        await createQueuedRun(store, 1);
        await store.updateRun({ runId: runId(1), changes: { notBefore: at(NOW) }, events: [] });
        expect(await claim(store, 'worker-1', { nowMs: NOW - 1 })).toBeNull();
        expect((await claim(store, 'worker-1', { nowMs: NOW }))?.run.id).toBe(runId(1));
      });

      it('gives a reserved run only to the owner it is reserved for', async () => {
        const reservedBy = { leaseOwner: 'cli-1', leaseExpiresAt: at(NOW + 1_000) };
        await createQueuedRun(store, 1, { reservedBy, priority: 9 });
        await createQueuedRun(store, 2);
        expect((await claim(store, 'worker-1'))?.run.id).toBe(runId(2));
        expect(await claim(store, 'worker-1')).toBeNull();
        const claimed = await claim(store, 'cli-1');
        expect(claimed?.run).toMatchObject({
          id: runId(1),
          leaseOwner: 'cli-1',
          leaseExpiresAt: at(NOW + 60_000),
          fencingToken: 1,
        });
      });

      it('never claims a run whose cancel was requested', async () => {
        await createQueuedRun(store, 1);
        await store.updateRun({
          runId: runId(1),
          changes: { cancelRequestedAt: at(5), cancelRequestedBy: 'bob' },
          events: [],
        });
        expect(await claim(store, 'worker-1')).toBeNull();
        expect(await store.getRun(runId(1))).toMatchObject({
          status: 'queued',
          cancelRequestedAt: at(5),
          cancelRequestedBy: 'bob',
        });
      });

      it('with runId considers only that run', async () => {
        await createQueuedRun(store, 1, { priority: 9 });
        await createQueuedRun(store, 2);
        expect((await claim(store, 'worker-1', { runId: runId(2) }))?.run.id).toBe(runId(2));
        expect(await claim(store, 'worker-1', { runId: runId(2) })).toBeNull();
        expect(await claim(store, 'worker-1', { runId: runId(404) })).toBeNull();
        expect((await store.getRun(runId(1)))?.status).toBe('queued');
      });

      it('skips runs of a repo that already runs maxRunningPerRepo, taking the next repo', async () => {
        for (let n = 1; n <= 3; n += 1) {
          await createQueuedRun(store, n, { repo: '/repos/a', priority: 1 });
        }
        await createQueuedRun(store, 4, { repo: '/repos/b' });
        await createQueuedRun(store, 5, { repo: '/repos/b' });
        const limited = { maxRunningPerRepo: 2 };
        expect(await claimedIds('worker-1', limited)).toEqual([1, 2, 4, 5].map(runId));
        // Only running runs count: once one of repo a's ends, its third run can start.
        const first = await store.getRun(runId(1));
        if (first === null) throw new Error('run 1 vanished');
        await finish(store, first);
        expect((await claim(store, 'worker-1', limited))?.run.id).toBe(runId(3));
        expect(await claim(store, 'worker-1', limited)).toBeNull();
        await createQueuedRun(store, 6, { repo: '/repos/c' });
        expect(await claim(store, 'worker-1', { maxRunningPerRepo: 0 })).toBeNull();
        await expectCode(claim(store, 'worker-1', { maxRunningPerRepo: -1 }), 'INVALID_ARGUMENT');
      });

      it('increments the fencing token on every claim, also a re-claim by the same owner', async () => {
        await createQueuedRun(store, 1, { maxClaims: 3 });
        const first = await claim(store, 'worker-1');
        expect(first?.run).toMatchObject({ fencingToken: 1, claimCount: 1 });
        // Requeued (as the sweep does after an interruption), then claimed again.
        await store.updateRun({
          runId: runId(1),
          expect: { status: ['running'], leaseOwner: 'worker-1', fencingToken: 1 },
          changes: { status: 'queued', leaseOwner: null, leaseExpiresAt: null },
          events: [event('run.requeued', NOW + 1)],
        });
        const second = await claim(store, 'worker-1', { nowMs: NOW + 2 });
        expect(second?.run).toMatchObject({
          status: 'running',
          leaseOwner: 'worker-1',
          fencingToken: 2,
          claimCount: 2,
          maxClaims: 3,
        });
        expect((await store.readEvents(sessionId(1))).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      });
    });

    describe('fencing tokens', () => {
      const stale: HeldFence = {
        runId: runId(1),
        leaseOwner: 'worker-1',
        fencingToken: 1,
      };
      const current: HeldFence = { ...stale, fencingToken: 2 };

      /** Run 1 claimed twice by worker-1 (token 2 now), with a running attempt from each claim. */
      async function reclaimedRun(): Promise<void> {
        await createQueuedRun(store, 1, { maxClaims: 2 });
        await claim(store, 'worker-1');
        await store.createAttempt({
          attempt: {
            id: attemptId(1),
            runId: runId(1),
            number: 1,
            agentId: 'mock',
            startedAt: at(NOW),
          },
          events: [],
          fence: stale,
        });
        await store.updateRun({
          runId: runId(1),
          changes: { status: 'queued', leaseOwner: null, leaseExpiresAt: null },
          events: [event('run.requeued', NOW + 1)],
        });
        await claim(store, 'worker-1', { nowMs: NOW + 2 });
      }

      function fencedWrites(fence: HeldFence) {
        return {
          append: () => store.appendEvents(sessionId(1), [event('agent.output', NOW + 3)], fence),
          createAttempt: () =>
            store.createAttempt({
              attempt: {
                id: attemptId(2),
                runId: runId(1),
                number: 2,
                agentId: 'mock',
                startedAt: at(NOW + 3),
              },
              events: [event('attempt.started', NOW + 3)],
              fence,
            }),
          finishAttempt: () =>
            store.finishAttempt({
              attemptId: attemptId(1),
              status: 'failed',
              reasonCode: 'INTERRUPTED',
              finishedAt: at(NOW + 3),
              detail: {},
              events: [event('attempt.finished', NOW + 3)],
              fence,
            }),
          updateRun: () =>
            store.updateRun({
              runId: runId(1),
              expect: {
                status: ['running'],
                leaseOwner: fence.leaseOwner,
                fencingToken: fence.fencingToken,
              },
              changes: { status: 'failed', finishedAt: at(NOW + 3) },
              events: [event('run.completed', NOW + 3)],
            }),
        };
      }

      async function snapshot() {
        return {
          session: await store.getSession(sessionId(1)),
          run: await store.getRun(runId(1)),
          attempts: await store.listAttempts(runId(1)),
          events: await store.readEvents(sessionId(1)),
        };
      }

      it('refuses every write under a stale token of the same owner, writing nothing', async () => {
        await reclaimedRun();
        const before = await snapshot();
        for (const write of Object.values(fencedWrites(stale))) {
          const error = await expectCode(write(), 'LEASE_FENCED');
          expect(isAasError(error) && error.message).toBe(
            `run ${runId(1)} is no longer leased to worker-1 under fencing token 1 (now: worker-1, token 2, status running)`,
          );
          expect(isAasError(error) && error.details).toMatchObject({
            expectedLeaseOwner: 'worker-1',
            actualLeaseOwner: 'worker-1',
            expectedFencingToken: 1,
            actualFencingToken: 2,
          });
        }
        expect(await store.renewRunLease(stale, at(NOW + 999_999))).toEqual({
          held: false,
          cancelRequested: false,
        });
        expect(await snapshot()).toEqual(before);
      });

      it('accepts every write under the current token', async () => {
        await reclaimedRun();
        const writes = fencedWrites(current);
        expect((await writes.append()).map((e) => e.seq)).toEqual([5]);
        expect((await writes.createAttempt()).map((e) => e.seq)).toEqual([6]);
        expect((await writes.finishAttempt()).map((e) => e.seq)).toEqual([7]);
        expect(await store.renewRunLease(current, at(NOW + 120_000))).toEqual({
          held: true,
          cancelRequested: false,
        });
        const { run } = await writes.updateRun();
        expect(run).toMatchObject({ status: 'failed', fencingToken: 2 });
        expectValidChain(
          await store.readEvents(sessionId(1)),
          await store.getSession(sessionId(1)),
        );
      });

      it('refuses a token without an owner in updateRun expectations', async () => {
        await reclaimedRun();
        await expectCode(
          store.updateRun({
            runId: runId(1),
            expect: { fencingToken: 2 },
            changes: {},
            events: [],
          }),
          'INVALID_ARGUMENT',
        );
      });
    });

    describe('renewRunLease', () => {
      it('extends only a held lease and reports a cancel request either way', async () => {
        await createQueuedRun(store, 1);
        const claimed = await claim(store, 'worker-1');
        const fence = { runId: runId(1), leaseOwner: 'worker-1', fencingToken: 1 };
        expect(claimed?.run.version).toBe(2);
        expect(await store.renewRunLease(fence, at(NOW + 100_000))).toEqual({
          held: true,
          cancelRequested: false,
        });
        await store.updateRun({
          runId: runId(1),
          expect: { status: ['running'] },
          changes: { cancelRequestedAt: at(NOW + 5), cancelRequestedBy: 'bob' },
          events: [event('run.cancel.requested', NOW + 5)],
        });
        expect(await store.renewRunLease(fence, at(NOW + 200_000))).toEqual({
          held: true,
          cancelRequested: true,
        });
        // Without a token, the owner alone decides.
        expect(
          await store.renewRunLease({ runId: runId(1), leaseOwner: 'worker-1' }, at(NOW + 300_000)),
        ).toEqual({ held: true, cancelRequested: true });
        expect(await store.getRun(runId(1))).toMatchObject({
          leaseExpiresAt: at(NOW + 300_000),
          version: 6,
        });
        expect(
          await store.renewRunLease({ ...fence, leaseOwner: 'worker-2' }, at(NOW + 400_000)),
        ).toEqual({ held: false, cancelRequested: true });
        expect(await store.renewRunLease({ ...fence, fencingToken: 2 }, at(1))).toEqual({
          held: false,
          cancelRequested: true,
        });
        expect(await store.getRun(runId(1))).toMatchObject({
          leaseExpiresAt: at(NOW + 300_000),
          version: 6,
        });
        await expectCode(store.renewRunLease({ ...fence, runId: runId(404) }, at(1)), 'NOT_FOUND');
      });
    });

    describe('countRunsByStatus', () => {
      it('counts every status, zero when none', async () => {
        const zero = Object.fromEntries(RUN_STATUSES.map((status) => [status, 0]));
        expect(await store.countRunsByStatus()).toEqual(zero);
        for (let n = 1; n <= 5; n += 1) await createQueuedRun(store, n);
        const first = await claim(store, 'worker-1');
        await claim(store, 'worker-1');
        if (first === null) throw new Error('nothing claimed');
        await finish(store, first.run);
        expect(await store.countRunsByStatus()).toEqual({
          ...zero,
          queued: 3,
          running: 1,
          ready_for_promotion: 1,
        });
      });
    });

    describe('listSessions filters', () => {
      beforeEach(async () => {
        // n: repo, agent, requester, labels
        const shapes: [string, string, string, string[]][] = [
          ['/r/a', 'mock', 'alice', ['x', 'y']],
          ['/r/b', 'mock', 'bob', ['x']],
          ['/r/a', 'codex', 'alice', ['y', 'y']],
          ['/r/a', 'mock', 'bob', ['x']],
          ['/r/b', 'codex', 'alice', []],
          ['/r/a', 'mock', 'alice', ['x', 'z']],
          ['/r/a', 'mock', 'alice', ['x']],
        ];
        for (const [index, [repo, agent, requestedBy, labels]] of shapes.entries()) {
          await createQueuedRun(store, index + 1, { repo, agent, requestedBy, labels });
        }
        for (const n of [1, 4, 6]) {
          await store.updateRun({ runId: runId(n), changes: { status: 'running' }, events: [] });
        }
      });

      const ids = async (filter: Parameters<Store['listSessions']>[0]) =>
        (await store.listSessions(filter)).map((s) => Number.parseInt(s.id.slice(4), 16));

      it('filters by repo, agent, requester and label, each alone and combined with status', async () => {
        expect(await ids({ repo: '/r/a' })).toEqual([7, 6, 4, 3, 1]);
        expect(await ids({ agent: 'codex' })).toEqual([5, 3]);
        expect(await ids({ requestedBy: 'bob' })).toEqual([4, 2]);
        expect(await ids({ label: 'x' })).toEqual([7, 6, 4, 2, 1]);
        expect(await ids({ label: 'y' })).toEqual([3, 1]);
        expect(await ids({ label: 'nope' })).toEqual([]);
        expect(await ids({ repo: '/r/a', status: 'running' })).toEqual([6, 4, 1]);
        expect(await ids({ label: 'x', status: 'running', requestedBy: 'alice' })).toEqual([6, 1]);
        expect(
          await ids({ repo: '/r/a', agent: 'mock', requestedBy: 'alice', label: 'x' }),
        ).toEqual([7, 6, 1]);
        // Labels are returned as given, duplicates included; the label index holds each once.
        expect((await store.getSession(sessionId(3)))?.labels).toEqual(['y', 'y']);
      });

      it('pages every filter newest first with the beforeId cursor', async () => {
        const pagesOf = async (filter: { repo?: string; label?: string; status?: 'running' }) => {
          const pages: number[][] = [];
          let beforeId: string | undefined;
          for (;;) {
            const page = await store.listSessions({
              ...filter,
              limit: 2,
              ...(beforeId ? { beforeId } : {}),
            });
            if (page.length === 0) return pages;
            pages.push(page.map((s) => Number.parseInt(s.id.slice(4), 16)));
            beforeId = page.at(-1)?.id;
          }
        };
        expect(await pagesOf({ label: 'x' })).toEqual([[7, 6], [4, 2], [1]]);
        expect(await pagesOf({ repo: '/r/a' })).toEqual([[7, 6], [4, 3], [1]]);
        expect(await pagesOf({ label: 'x', status: 'running' })).toEqual([[6, 4], [1]]);
        expect(await ids({ label: 'x', beforeId: sessionId(6), limit: 1 })).toEqual([4]);
      });
    });

    describe('tokens', () => {
      const token = (n: number, overrides: Partial<NewToken> = {}): NewToken => ({
        id: `tok_${n.toString(16).padStart(24, '0')}`,
        name: `token-${n}`,
        role: 'operator',
        secretSha256: n.toString(16).padStart(64, '0'),
        createdAt: at(n * 1_000),
        createdBy: 'admin',
        ...overrides,
      });

      it('creates, finds by hash, lists oldest first and counts', async () => {
        expect(await store.countTokens()).toBe(0);
        expect(await store.listTokens()).toEqual([]);
        const second = await store.createToken(token(2, { role: 'worker' }));
        expect(second).toEqual({
          id: token(2).id,
          name: 'token-2',
          role: 'worker',
          createdAt: at(2_000),
          createdBy: 'admin',
          revokedAt: null,
        });
        await store.createToken(token(1));
        await store.createToken(token(3, { role: 'admin' }));
        expect((await store.listTokens()).map((t) => t.name)).toEqual([
          'token-1',
          'token-2',
          'token-3',
        ]);
        expect(await store.findTokenBySecretHash(token(2).secretSha256)).toEqual(second);
        expect(await store.findTokenBySecretHash('f'.repeat(64))).toBeNull();
        expect(await store.countTokens()).toBe(3);
      });

      it('refuses a taken name (also once revoked) with NAME_TAKEN, a taken secret or id with CONFLICT, naming the field', async () => {
        await store.createToken(token(1));
        const clash = async (candidate: NewToken, field: string, message: string) => {
          const error = await expectCode(
            store.createToken(candidate),
            field === 'name' ? 'NAME_TAKEN' : 'CONFLICT',
          );
          expect(isAasError(error) && error.message).toBe(message);
          expect(isAasError(error) && error.details.field).toBe(field);
        };
        await clash(
          token(2, { name: 'token-1' }),
          'name',
          'a token named "token-1" already exists (names stay taken after revocation)',
        );
        await clash(
          token(2, { secretSha256: token(1).secretSha256 }),
          'secretSha256',
          'a token with this secret already exists',
        );
        await clash(
          token(2, { id: token(1).id }),
          'id',
          `a token with id ${token(1).id} already exists`,
        );
        await store.revokeToken('token-1', at(50_000));
        await clash(
          token(2, { name: 'token-1' }),
          'name',
          'a token named "token-1" already exists (names stay taken after revocation)',
        );
        expect(await store.countTokens()).toBe(1);
      });

      it('lets exactly one of two racing creates of one name win', async () => {
        const other = await fixture.openAnother();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 === 0 ? store : other).createToken(token(i + 1, { name: 'shared' })),
          ),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') {
            expect(isAasError(outcome.reason) && outcome.reason.details.field).toBe('name');
          }
        }
      });

      it('refuses an unknown role or a malformed hash', async () => {
        await expectCode(
          store.createToken(token(1, { role: 'root' as NewToken['role'] })),
          'INVALID_ARGUMENT',
        );
        await expectCode(store.createToken(token(1, { secretSha256: 'ABC' })), 'INVALID_ARGUMENT');
        expect(await store.countTokens()).toBe(0);
      });

      it('revokes by id or name, keeps the first revocation time, NOT_FOUND otherwise', async () => {
        await store.createToken(token(1));
        // A name that looks like another token's id: the id wins.
        await store.createToken(token(2, { name: token(1).id }));
        const byId = await store.revokeToken(token(1).id, at(10_000));
        expect(byId).toMatchObject({ name: 'token-1', revokedAt: at(10_000) });
        expect((await store.findTokenBySecretHash(token(2).secretSha256))?.revokedAt).toBeNull();
        // Again, by name: still the first time.
        expect(await store.revokeToken('token-1', at(20_000))).toEqual(byId);
        expect(await store.findTokenBySecretHash(token(1).secretSha256)).toEqual(byId);
        const second = await store.revokeToken(token(2).id, at(30_000));
        expect(second).toMatchObject({ name: token(1).id, revokedAt: at(30_000) });
        await expectCode(store.revokeToken('nobody', at(1)), 'NOT_FOUND');
        expect((await store.listTokens()).map((t) => t.revokedAt)).toEqual([
          at(10_000),
          at(30_000),
        ]);
        expect(await store.countTokens()).toBe(2);
      });

      it('keeps the last admin token that works, and revokes any other', async () => {
        await store.createToken(token(1, { role: 'admin' }));
        await store.createToken(token(2));
        const last = await store
          .revokeToken('token-1', at(10_000))
          .catch((error: unknown) => error);
        expect(last).toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringContaining('token-1 is the last admin token that works'),
        });
        expect((await store.findTokenBySecretHash(token(1).secretSha256))?.revokedAt).toBeNull();
        await store.revokeToken('token-2', at(11_000));
        await store.createToken(token(3, { role: 'admin' }));
        expect(await store.revokeToken(token(1).id, at(12_000))).toMatchObject({
          revokedAt: at(12_000),
        });
        await expectCode(store.revokeToken('token-3', at(13_000)), 'INVALID_ARGUMENT');
        // Two revocations of the last two at once, through two stores: one of them is refused.
        await store.createToken(token(4, { role: 'admin' }));
        const other = await fixture.openAnother();
        const outcomes = await Promise.allSettled([
          store.revokeToken('token-3', at(13_500)),
          other.revokeToken('token-4', at(13_500)),
        ]);
        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        expect(outcomes.find((outcome) => outcome.status === 'rejected')).toMatchObject({
          reason: { code: 'INVALID_ARGUMENT' },
        });
        // Revoking a revoked admin token again is no change, and allowed.
        expect(await store.revokeToken('token-1', at(14_000))).toMatchObject({
          revokedAt: at(12_000),
        });
      });
    });
  });
}
