import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError, ManualClock, silentLogger } from '../../src/kernel/index.js';
import { LEASE_WRITE_RETENTION_MS, RunQueue } from '../../src/queue/index.js';
import { parseJobSpec, submitRun } from '../../src/runner/index.js';
import { EventBus, SessionRecorder, verifyChain } from '../../src/sessions/index.js';
import { POSTGRES_REQUIRED, type StoreFixture, storeDialects } from '../store/dialects.js';

/**
 * The queue's rules, on both dialects, with a manual clock: leases expire only when the test
 * moves time, so nothing here sleeps.
 */
const LEASE_MS = 10_000;
const dialects = await storeDialects();

for (const dialect of dialects) {
  const skip = !dialect.available && !POSTGRES_REQUIRED;
  describe.skipIf(skip)(`run queue (${dialect.name})`, () => {
    let fixture: StoreFixture;
    let clock: ManualClock;
    let queue: RunQueue;
    const bus = new EventBus();

    beforeEach(async () => {
      fixture = await dialect.open();
      clock = new ManualClock(Date.UTC(2026, 10, 1));
      queue = new RunQueue(
        { store: fixture.store, clock, log: silentLogger, bus },
        { leaseMs: LEASE_MS, retryBackoff: { baseMs: 1_000, maxMs: 8_000 }, random: () => 1 },
      );
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    async function submit(fields: Record<string, unknown> = {}, by = 'alice') {
      const job = parseJobSpec({
        task: 't',
        repo: '/repos/a',
        agent: 'command',
        agentInput: { command: 'true' },
        ...fields,
      });
      return submitRun({ store: fixture.store, clock, bus }, job, by);
    }

    async function eventTypes(sessionId: string): Promise<string[]> {
      return (await fixture.store.readEvents(sessionId)).map((event) => event.type);
    }

    it('claims by priority, then age, and records the claim with its fencing token', async () => {
      const low = await submit();
      clock.advance(1);
      const high = await submit({ priority: 5 });
      const first = await queue.claim('w1');
      expect(first?.run.id).toBe(high.runId);
      expect(first?.fence).toEqual({ runId: high.runId, leaseOwner: 'w1', fencingToken: 1 });
      expect((await queue.claim('w2'))?.run.id).toBe(low.runId);
      expect(await queue.claim('w3')).toBeNull();
      const started = (await fixture.store.readEvents(high.sessionId)).find(
        (event) => event.type === 'run.started',
      );
      expect(started?.data).toMatchObject({ owner: 'w1', fencingToken: 1, claim: 1, maxClaims: 2 });
    });

    it('heartbeats renew the lease, carry a cancel, and tell a fenced holder it lost the run', async () => {
      const submitted = await submit();
      const claimed = await queue.claim('w1');
      if (claimed === null) throw new Error('expected a claim');
      clock.advance(LEASE_MS - 1);
      expect(await queue.heartbeat(claimed.fence)).toEqual({ held: true, cancelRequested: false });
      clock.advance(LEASE_MS - 1);
      // Renewed: not expired although more than one lease length passed since the claim.
      expect(await queue.sweep('sweeper')).toEqual({
        requeued: [],
        ended: [],
        prunedLeaseWrites: 0,
      });

      expect(await queue.requestCancel(submitted.runId, 'bob')).toMatchObject({
        outcome: 'cancel_requested',
      });
      expect(await queue.heartbeat(claimed.fence)).toEqual({ held: true, cancelRequested: true });
      expect(
        await queue.heartbeat({ ...claimed.fence, fencingToken: claimed.fence.fencingToken + 1 }),
      ).toMatchObject({ held: false });
    });

    it('gives back unspent, a few times, a claim its holder never acknowledged', async () => {
      // One claim allowed: a claim whose answer never reached its holder must not use it up.
      const submitted = await submit({ interruptRetries: 0 });
      for (let lost = 1; lost <= 3; lost += 1) {
        expect(await queue.claim(`w${lost}`)).not.toBeNull();
        clock.advance(LEASE_MS + 1);
        expect((await queue.sweep('sweeper')).requeued).toEqual([submitted.runId]);
        expect(await fixture.store.getRun(submitted.runId)).toMatchObject({
          status: 'queued',
          claimCount: 0,
          unacknowledgedClaims: lost,
          notBefore: null,
        });
      }
      const events = await fixture.store.readEvents(submitted.sessionId);
      expect(events.filter((e) => e.type === 'run.requeued').at(-1)?.data).toMatchObject({
        claimsUsed: 0,
        reason: expect.stringMatching(/never acknowledged the claim/),
      });
      // The fourth holder that never acknowledges spends it: the run cannot bounce forever.
      expect(await queue.claim('w4')).not.toBeNull();
      clock.advance(LEASE_MS + 1);
      expect((await queue.sweep('sweeper')).ended).toEqual([submitted.runId]);
      expect(await fixture.store.getRun(submitted.runId)).toMatchObject({
        status: 'failed',
        reasonCode: 'INTERRUPTED',
      });
    });

    it('spends a claim its holder acknowledged, even before any attempt', async () => {
      const submitted = await submit({ interruptRetries: 0 });
      const claimed = await queue.claim('w1');
      if (claimed === null) throw new Error('expected a claim');
      expect((await queue.heartbeat(claimed.fence)).held).toBe(true);
      clock.advance(LEASE_MS + 1);
      expect((await queue.sweep('sweeper')).ended).toEqual([submitted.runId]);
    });

    it('a sweep that found no attempt loses to one opened before its write', async () => {
      // A holder that never renewed (an older replica's worker starts without a first beat)
      // opens its attempt between the sweep's listing of attempts and its give-back: the
      // attempt must not be left running under a run queued again for someone else.
      const submitted = await submit({ interruptRetries: 0 });
      const claimed = await queue.claim('w1');
      if (claimed === null) throw new Error('expected a claim');
      clock.advance(LEASE_MS + 1);
      const holder = new SessionRecorder(
        { store: fixture.store, clock, bus },
        submitted.sessionId,
        'w1',
      ).fenced(claimed.fence);
      let opened = false;
      const racing = new Proxy(fixture.store, {
        get(target, key) {
          if (key !== 'listAttempts') {
            const value: unknown = Reflect.get(target, key);
            // The store's methods use private fields: they must run on the store itself.
            return typeof value === 'function' ? value.bind(target) : value;
          }
          return async (runId: string) => {
            const listed = await target.listAttempts(runId);
            if (!opened) {
              opened = true;
              await holder.createAttempt(
                { id: 'att_racing', runId, number: 1, agentId: 'command' },
                [],
              );
            }
            return listed;
          };
        },
      });
      const sweeper = new RunQueue(
        { store: racing, clock, log: silentLogger, bus },
        { leaseMs: LEASE_MS, retryBackoff: { baseMs: 1_000, maxMs: 8_000 }, random: () => 1 },
      );
      expect(await sweeper.sweep('sweeper')).toMatchObject({ requeued: [], ended: [] });
      expect(opened).toBe(true);
      expect(await fixture.store.getRun(submitted.runId)).toMatchObject({
        status: 'running',
        leaseOwner: 'w1',
      });
      // The next sweep sees the attempt: the claim is spent, the attempt ends with the run.
      expect((await queue.sweep('sweeper')).ended).toEqual([submitted.runId]);
      expect((await fixture.store.listAttempts(submitted.runId))[0]).toMatchObject({
        status: 'failed',
        reasonCode: 'INTERRUPTED',
      });
    });

    it('says a run cancelled while queued again had started before', async () => {
      const submitted = await submit({ interruptRetries: 1 });
      const first = await queue.claim('w1');
      if (first === null) throw new Error('expected a claim');
      expect((await queue.heartbeat(first.fence)).held).toBe(true);
      clock.advance(LEASE_MS + 1);
      expect((await queue.sweep('sweeper')).requeued).toEqual([submitted.runId]);
      const { run } = await queue.requestCancel(submitted.runId, 'bob');
      expect(run.reasonDetail).toBe(
        'cancelled by bob while queued again after 1 interrupted claim(s)',
      );
    });

    it('requeues an expired run with backoff while the job allows, then ends it INTERRUPTED', async () => {
      const submitted = await submit({ interruptRetries: 1 });
      const first = await queue.claim('w1');
      if (first === null) throw new Error('expected a claim');
      await fixture.store.createAttempt({
        attempt: {
          id: 'att_0000000000000000000000a1',
          runId: submitted.runId,
          number: 1,
          agentId: 'command',
          startedAt: clock.nowIso(),
        },
        events: [],
        fence: first.fence,
      });
      clock.advance(LEASE_MS + 1);
      expect(await queue.sweep('sweeper')).toEqual({
        requeued: [submitted.runId],
        ended: [],
        prunedLeaseWrites: 0,
      });
      const requeued = await fixture.store.getRun(submitted.runId);
      expect(requeued).toMatchObject({ status: 'queued', leaseOwner: null, claimCount: 1 });
      // random() = 1: the full first backoff step.
      expect(requeued?.notBefore).toBe(new Date(clock.nowMs() + 1_000).toISOString());
      expect((await fixture.store.listAttempts(submitted.runId))[0]).toMatchObject({
        status: 'failed',
        reasonCode: 'INTERRUPTED',
      });

      // Not claimable during the backoff, claimable after it, with a new token.
      expect(await queue.claim('w2')).toBeNull();
      clock.advance(1_000);
      const second = await queue.claim('w2');
      expect(second?.fence.fencingToken).toBe(2);

      // The first holder's late writes are fenced, even though it still thinks it holds the run.
      const stale = await fixture.store
        .appendEvents(submitted.sessionId, [], first.fence)
        .then(() =>
          fixture.store.updateRun({
            runId: submitted.runId,
            expect: { leaseOwner: 'w1', fencingToken: 1 },
            changes: { status: 'ready_for_promotion' },
            events: [],
          }),
        )
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(isAasError(stale) && stale.code).toBe('LEASE_FENCED');

      // The second holder acknowledged its claim (a heartbeat), then died: that claim is spent.
      if (second === null) throw new Error('expected a second claim');
      expect((await queue.heartbeat(second.fence)).held).toBe(true);
      clock.advance(LEASE_MS + 1);
      expect(await queue.sweep('sweeper')).toEqual({
        requeued: [],
        ended: [submitted.runId],
        prunedLeaseWrites: 0,
      });
      expect(await fixture.store.getRun(submitted.runId)).toMatchObject({
        status: 'failed',
        reasonCode: 'INTERRUPTED',
        claimCount: 2,
      });
      const causes = (await fixture.store.readEvents(submitted.sessionId))
        .filter((event) => event.type === 'run.interrupted')
        .map((event) => (event.data as { cause?: string }).cause);
      expect(causes).toEqual(['lease_expired', 'lease_expired']);
      expect(await eventTypes(submitted.sessionId)).toEqual([
        'session.created',
        'run.queued',
        'run.started',
        // The dead holder's attempt ends before its run is requeued, in the same transaction.
        'run.attempt.finished',
        'run.interrupted',
        'run.requeued',
        'run.started',
        'run.interrupted',
        'run.completed',
      ]);
      const session = await fixture.store.getSession(submitted.sessionId);
      if (session === null) throw new Error('session missing');
      expect(verifyChain(session, await fixture.store.readEvents(submitted.sessionId)).ok).toBe(
        true,
      );
    });

    it('cancels a queued run at once and refuses to cancel a finished one', async () => {
      const submitted = await submit();
      expect(await queue.requestCancel(submitted.runId, 'bob')).toMatchObject({
        outcome: 'cancelled',
        run: { status: 'cancelled', reasonCode: 'CANCELLED', cancelRequestedBy: 'bob' },
      });
      expect(await queue.claim('w1')).toBeNull();
      const again = await queue.requestCancel(submitted.runId, 'bob').then(
        () => null,
        (error: unknown) => error,
      );
      expect(isAasError(again) && again.code).toBe('CONFLICT');
      const missing = await queue.requestCancel('run_000000000000000000000404', 'bob').then(
        () => null,
        (error: unknown) => error,
      );
      expect(isAasError(missing) && missing.code).toBe('NOT_FOUND');
    });

    it('ends an expired run whose cancel was pending as CANCELLED, not requeued', async () => {
      const submitted = await submit({ interruptRetries: 3 });
      await queue.claim('w1');
      await queue.requestCancel(submitted.runId, 'bob');
      clock.advance(LEASE_MS + 1);
      expect(await queue.sweep('sweeper')).toEqual({
        requeued: [],
        ended: [submitted.runId],
        prunedLeaseWrites: 0,
      });
      expect(await fixture.store.getRun(submitted.runId)).toMatchObject({
        status: 'cancelled',
        reasonCode: 'CANCELLED',
      });
    });

    it('release gives a run back once; a holder that lost it changes nothing', async () => {
      const submitted = await submit({ interruptRetries: 1 });
      const claimed = await queue.claim('w1');
      if (claimed === null) throw new Error('expected a claim');
      expect(await queue.release(claimed.fence, 'shutting down')).toBe('requeued');
      expect(await queue.release(claimed.fence, 'shutting down')).toBe('lost');
      const run = await fixture.store.getRun(submitted.runId);
      expect(run).toMatchObject({ status: 'queued', leaseOwner: null });
      const interrupted = (await fixture.store.readEvents(submitted.sessionId)).filter(
        (event) => event.type === 'run.interrupted',
      );
      expect(interrupted.map((event) => event.data)).toEqual([
        expect.objectContaining({ cause: 'released', previousOwner: 'w1' }),
      ]);
    });

    it('forgets applied remote writes an hour after their run finished, pruning every ten minutes', async () => {
      // This sweep prunes (nothing yet); the next prune is due ten minutes later.
      expect((await queue.sweep('sweeper')).prunedLeaseWrites).toBe(0);
      const submitted = await submit();
      const claimed = await queue.claim('wrk_remote');
      if (claimed === null) throw new Error('expected a claim');
      const finishedAtMs = clock.nowMs() - LEASE_WRITE_RETENTION_MS - 1;
      const finish = () =>
        fixture.store.updateRun({
          runId: submitted.runId,
          changes: {
            status: 'failed',
            reasonCode: 'AGENT_FAILED',
            finishedAt: new Date(finishedAtMs).toISOString(),
            leaseOwner: null,
            leaseExpiresAt: null,
          },
          events: [],
          expect: { ...claimed.fence, status: ['running'] },
          writeSeq: 1,
        });
      await finish();
      clock.advance(10 * 60_000 - 1);
      expect((await queue.sweep('sweeper')).prunedLeaseWrites).toBe(0);
      await expect(finish()).rejects.toMatchObject({ code: 'CONFLICT' });
      clock.advance(1);
      expect((await queue.sweep('sweeper')).prunedLeaseWrites).toBe(1);
      await expect(finish()).rejects.toMatchObject({ code: 'LEASE_FENCED' });
    });

    it('a sweep races a renewing holder and loses: the live run is left alone', async () => {
      const submitted = await submit();
      const claimed = await queue.claim('w1');
      if (claimed === null) throw new Error('expected a claim');
      clock.advance(LEASE_MS + 1);
      const expired = await fixture.store.listRunsWithExpiredLease(clock.nowIso());
      expect(expired.map((run) => run.id)).toEqual([submitted.runId]);
      // The holder renews between the sweeper's read and its write.
      await queue.heartbeat(claimed.fence);
      const recorder = new SessionRecorder(
        { store: fixture.store, clock, bus },
        submitted.sessionId,
        'sweeper',
      );
      const lost = await recorder
        .updateRun(submitted.runId, { status: 'failed' }, [], {
          status: ['running'],
          version: expired[0]?.version ?? 0,
        })
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(isAasError(lost) && lost.code).toBe('CONFLICT');
      expect((await fixture.store.getRun(submitted.runId))?.status).toBe('running');
    });
  });
}
