import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import { isDuplicateWrite, type Store } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from './dialects.js';
import { at, createQueuedRun, event, runId, sessionId } from './queue-helpers.js';

/**
 * What remote workers rely on, on both dialects: numbered writes under a fence apply once (a
 * repeat is told apart from a lost lease, even after the write ended the run), and a run's
 * artifacts are stored where any store on the database reads them, only while the fence holds.
 */

const sha = (content: Buffer) => createHash('sha256').update(content).digest('hex');

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await errorOf(promise);
  return isAasError(error) ? error.code : String(error);
}

async function claimed(store: Store, n: number, owner: string) {
  const claim = await store.claimRun({
    owner,
    nowIso: at(10_000),
    leaseExpiresAt: at(70_000),
    runId: runId(n),
    events: () => [event('run.started', 10_000)],
  });
  if (claim === null) throw new Error('not claimable');
  return { runId: runId(n), leaseOwner: owner, fencingToken: claim.run.fencingToken };
}

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`numbered writes and artifacts: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await dialect.open();
      store = fixture.store;
      await createQueuedRun(store, 1);
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('applies a numbered append once; its repeat writes nothing and says so', async () => {
      const fence = await claimed(store, 1, 'wrk_a');
      const first = await store.appendEvents(sessionId(1), [event('agent.event', 11_000)], {
        ...fence,
        writeSeq: 1,
      });
      expect(first).toHaveLength(1);
      const repeat = await errorOf(
        store.appendEvents(sessionId(1), [event('agent.event', 11_000)], { ...fence, writeSeq: 1 }),
      );
      expect(isDuplicateWrite(repeat)).toBe(true);
      const next = await store.appendEvents(sessionId(1), [event('agent.event', 12_000)], {
        ...fence,
        writeSeq: 2,
      });
      expect(next[0]?.seq).toBe((first[0]?.seq ?? 0) + 1);
      const types = (await store.readEvents(sessionId(1))).map((e) => e.type);
      expect(types.filter((type) => type === 'agent.event')).toHaveLength(2);
    });

    it('tells the repeat of a final update from a lost lease, and fences a stale token', async () => {
      const fence = await claimed(store, 1, 'wrk_a');
      const final = {
        runId: runId(1),
        changes: { status: 'failed' as const, reasonCode: 'AGENT_FAILED', leaseOwner: null },
        events: [event('run.completed', 20_000)],
        expect: { leaseOwner: fence.leaseOwner, fencingToken: fence.fencingToken },
        writeSeq: 7,
      };
      const done = await store.updateRun(final);
      expect(done.run.status).toBe('failed');
      // The lease is gone now, yet the same write again is a repeat, not a lost lease.
      expect(isDuplicateWrite(await errorOf(store.updateRun(final)))).toBe(true);
      // Another write under that claim is a lost lease.
      expect(
        await codeOf(
          store.appendEvents(sessionId(1), [event('agent.event', 21_000)], {
            ...fence,
            writeSeq: 8,
          }),
        ),
      ).toBe('LEASE_FENCED');
      const completed = (await store.readEvents(sessionId(1))).filter(
        (e) => e.type === 'run.completed',
      );
      expect(completed).toHaveLength(1);
    });

    it('forgets the numbered writes of runs finished before the cutoff, and only those', async () => {
      await createQueuedRun(store, 2);
      const ended = await claimed(store, 1, 'wrk_a');
      const running = await claimed(store, 2, 'wrk_b');
      const final = {
        runId: runId(1),
        changes: {
          status: 'failed' as const,
          reasonCode: 'AGENT_FAILED',
          finishedAt: at(20_000),
          leaseOwner: null,
          leaseExpiresAt: null,
        },
        events: [event('run.completed', 20_000)],
        expect: { leaseOwner: ended.leaseOwner, fencingToken: ended.fencingToken },
        writeSeq: 3,
      };
      await store.updateRun(final);
      await store.appendEvents(sessionId(2), [event('agent.event', 11_000)], {
        ...running,
        writeSeq: 1,
      });
      // Another finished run, with two numbered writes.
      await createQueuedRun(store, 3);
      const other = await claimed(store, 3, 'wrk_c');
      await store.appendEvents(sessionId(3), [event('agent.event', 11_000)], {
        ...other,
        writeSeq: 1,
      });
      await store.updateRun({
        ...final,
        runId: runId(3),
        expect: { leaseOwner: other.leaseOwner, fencingToken: other.fencingToken },
        writeSeq: 2,
      });
      // Finished at 20 s: a cutoff at that instant keeps them, a later one does not.
      expect(await store.pruneLeaseWrites(at(20_000), 10)).toEqual({ records: 0, runs: 0 });
      expect(isDuplicateWrite(await errorOf(store.updateRun(final)))).toBe(true);
      // At most one run's records per call.
      const first = await store.pruneLeaseWrites(at(3_600_000), 1);
      const second = await store.pruneLeaseWrites(at(3_600_000), 1);
      expect([first.runs, second.runs]).toEqual([1, 1]);
      expect(first.records + second.records).toBe(3);
      expect(await store.pruneLeaseWrites(at(3_600_000), 1)).toEqual({ records: 0, runs: 0 });
      // Forgotten: the late repeat now meets the fence, which refuses it all the same.
      expect(await codeOf(store.updateRun(final))).toBe('LEASE_FENCED');
      // A running run's records stay, whatever the cutoff.
      expect(
        isDuplicateWrite(
          await errorOf(
            store.appendEvents(sessionId(2), [event('agent.event', 11_000)], {
              ...running,
              writeSeq: 1,
            }),
          ),
        ),
      ).toBe(true);
    });

    it('keeps the numbers of one claim apart from the next claim of the same run', async () => {
      await createQueuedRun(store, 2, { maxClaims: 2 });
      const first = await claimed(store, 2, 'wrk_a');
      await store.appendEvents(sessionId(2), [event('agent.event', 11_000)], {
        ...first,
        writeSeq: 1,
      });
      await store.updateRun({
        runId: runId(2),
        changes: { status: 'queued', leaseOwner: null, leaseExpiresAt: null },
        events: [event('run.requeued', 12_000)],
      });
      const second = await claimed(store, 2, 'wrk_b');
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      const stored = await store.appendEvents(sessionId(2), [event('agent.event', 13_000)], {
        ...second,
        writeSeq: 1,
      });
      expect(stored).toHaveLength(1);
      // The dead holder's write 2 is fenced, whatever its number.
      expect(
        await codeOf(
          store.appendEvents(sessionId(2), [event('agent.event', 14_000)], {
            ...first,
            writeSeq: 2,
          }),
        ),
      ).toBe('LEASE_FENCED');
    });

    it('stores artifacts every store on the database reads, only under a holding fence', async () => {
      const fence = await claimed(store, 1, 'wrk_a');
      const patch = Buffer.from('diff --git a/x b/x\n');
      await store.putRunArtifact({
        runId: runId(1),
        name: 'patch',
        content: patch,
        sha256: sha(patch),
        originalBytes: patch.length,
        createdAt: at(15_000),
        fence,
      });
      const tail = Buffer.from('…last line\n');
      await store.putRunArtifact({
        runId: runId(1),
        name: '1.stdout.log',
        content: tail,
        sha256: sha(tail),
        originalBytes: 5_000_000,
        createdAt: at(15_000),
        fence,
      });
      const other = await fixture.openAnother();
      const read = await other.getRunArtifact(runId(1), 'patch');
      expect(read?.content.equals(patch)).toBe(true);
      expect(read?.artifact).toMatchObject({ sha256: sha(patch), bytes: patch.length });
      expect(await other.listRunArtifacts(runId(1))).toMatchObject([
        { name: '1.stdout.log', bytes: tail.length, originalBytes: 5_000_000 },
        { name: 'patch', bytes: patch.length, originalBytes: patch.length },
      ]);
      expect(await other.getRunArtifact(runId(1), '2.stdout.log')).toBeNull();

      // Bytes survive exactly, NUL and invalid UTF-8 included.
      const binary = Buffer.from([0, 255, 254, 0, 10]);
      await store.putRunArtifact({
        runId: runId(1),
        name: '1.stderr.log',
        content: binary,
        sha256: sha(binary),
        originalBytes: binary.length,
        createdAt: at(16_000),
        fence,
      });
      expect((await other.getRunArtifact(runId(1), '1.stderr.log'))?.content.equals(binary)).toBe(
        true,
      );

      const stale = { ...fence, fencingToken: fence.fencingToken + 1 };
      expect(
        await codeOf(
          store.putRunArtifact({
            runId: runId(1),
            name: 'patch',
            content: Buffer.from('other'),
            sha256: sha(Buffer.from('other')),
            originalBytes: 5,
            createdAt: at(17_000),
            fence: stale,
          }),
        ),
      ).toBe('LEASE_FENCED');
      expect((await store.getRunArtifact(runId(1), 'patch'))?.content.equals(patch)).toBe(true);
      expect(
        await codeOf(
          store.putRunArtifact({
            runId: runId(1),
            name: '../../etc/passwd',
            content: patch,
            sha256: sha(patch),
            originalBytes: patch.length,
            createdAt: at(17_000),
          }),
        ),
      ).toBe('INVALID_ARGUMENT');
    });
  });
}
