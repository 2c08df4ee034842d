import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunRecord, Store } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from './dialects.js';
import {
  claim,
  createQueuedRun,
  event,
  expectValidChain,
  finish,
  openRunningCounter,
  runId,
  sessionId,
} from './queue-helpers.js';

/**
 * Many independent stores (own connection or pool each) claiming from one queue at once. On
 * PostgreSQL these are real concurrent transactions; on SQLite, separate connections whose
 * write transactions interleave between awaits (several processes: see
 * sqlite-multiprocess-claims.test.ts).
 */

const CLAIMERS = 12;

const dialects = await storeDialects();

interface DrainOptions {
  readonly maxRunningPerRepo?: number;
  /** Runs between the claim and the finish, while the run is held. */
  readonly whileHeld?: (run: RunRecord) => Promise<void>;
}

/**
 * Claims and finishes runs until none is queued. A null claim while runs are still queued
 * means "nothing claimable right now" (a repo at its limit, or its claim lock busy): try again.
 */
async function drain(store: Store, owner: string, options: DrainOptions = {}): Promise<string[]> {
  const claimed: string[] = [];
  for (;;) {
    const result = await claim(store, owner, options);
    if (result === null) {
      if ((await store.countRunsByStatus()).queued === 0) return claimed;
      await sleep(1);
      continue;
    }
    claimed.push(result.run.id);
    expect(result.run).toMatchObject({ status: 'running', leaseOwner: owner, fencingToken: 1 });
    await options.whileHeld?.(result.run);
    await finish(store, result.run);
  }
}

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`queue concurrency: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let store: Store;
    let claimers: Store[];

    beforeEach(async () => {
      fixture = await dialect.open();
      store = fixture.store;
      claimers = [];
      for (let i = 0; i < CLAIMERS; i += 1) claimers.push(await fixture.openAnother());
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    async function enqueue(count: number, repos: number): Promise<void> {
      for (let n = 1; n <= count; n += 1) {
        await createQueuedRun(store, n, { repo: `/repos/r${n % repos}`, priority: n % 3 });
      }
    }

    async function expectAllFinishedOnce(count: number, claimedLists: string[][]) {
      const all = claimedLists.flat();
      expect(all).toHaveLength(count);
      expect(new Set(all).size).toBe(count);
      expect(await store.countRunsByStatus()).toMatchObject({
        queued: 0,
        running: 0,
        ready_for_promotion: count,
      });
      for (let n = 1; n <= count; n += 1) {
        expect(await store.getRun(runId(n))).toMatchObject({ fencingToken: 1, claimCount: 1 });
      }
    }

    it(`claims each of 300 runs exactly once across ${CLAIMERS} stores`, async () => {
      await enqueue(300, 4);
      const claimed = await Promise.all(claimers.map((claimer, i) => drain(claimer, `w${i}`)));
      await expectAllFinishedOnce(300, claimed);
      // Every claimer took part, and each session has exactly queued → started → completed.
      expect(claimed.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);
      for (let n = 1; n <= 300; n += 1) {
        const chain = await store.readEvents(sessionId(n));
        expect(chain.map((e) => e.type)).toEqual([
          'session.created',
          'run.started',
          'run.completed',
        ]);
        expectValidChain(chain, await store.getSession(sessionId(n)));
      }
    });

    /** Drains 150 runs of 3 repos with limit 2 through `loops` claimers on each store. */
    async function expectLimitHeld(stores: readonly Store[], loops: number): Promise<void> {
      const repos = 3;
      const limit = 2;
      await enqueue(150, repos);
      const counter = openRunningCounter(fixture);
      let maxSeenByHolder = 0;
      let maxSeenByMonitor = 0;
      let draining = true;
      try {
        const monitor = (async () => {
          while (draining) {
            for (const running of (await counter.runningByRepo()).values()) {
              maxSeenByMonitor = Math.max(maxSeenByMonitor, running);
            }
            await sleep(1);
          }
        })();
        const claimed = await Promise.all(
          stores.flatMap((claimer, i) =>
            Array.from({ length: loops }, (_, loop) =>
              drain(claimer, `w${i}-${loop}`, {
                maxRunningPerRepo: limit,
                whileHeld: async (run) => {
                  // Counted while this run is held: it and every other running run of its repo.
                  maxSeenByHolder = Math.max(maxSeenByHolder, await counter.running(run.repo));
                  await sleep(2);
                },
              }),
            ),
          ),
        ).finally(() => {
          draining = false;
        });
        await monitor;
        await expectAllFinishedOnce(150, claimed);
      } finally {
        await counter.close();
      }
      expect(maxSeenByMonitor).toBeLessThanOrEqual(limit);
      // The limit was reached, not merely never approached.
      expect(maxSeenByHolder).toBe(limit);
    }

    it('never runs more than maxRunningPerRepo runs of one repo at once', async () => {
      await expectLimitHeld(claimers, 1);
    });

    it('holds maxRunningPerRepo with several claimers per store, whose claims share statements', async () => {
      await expectLimitHeld(claimers.slice(0, 3), 4);
    });

    it('never deadlocks or fails while other writers hit the same sessions and runs', async () => {
      const count = 150;
      await enqueue(count, 3);
      const writers = [await fixture.openAnother(), await fixture.openAnother()];
      let draining = true;
      const notes = new Map<number, number>();
      const meddle = async (writer: Store, seed: number) => {
        for (let i = 0; draining; i += 1) {
          const n = 1 + ((seed * 7919 + i * 104_729) % count);
          notes.set(n, (notes.get(n) ?? 0) + 1);
          if (i % 2 === 0) {
            await writer.updateRun({
              runId: runId(n),
              changes: { reasonDetail: `note ${seed}/${i}` },
              events: [event('run.note', i)],
            });
          } else {
            await writer.appendEvents(sessionId(n), [event('session.note', i)]);
          }
          // SQLite operations complete without giving the event loop a turn: yield one, or
          // this loop would starve the claimers' timers.
          await nextTurn();
        }
      };
      const meddlers = [0, 1, 2, 3].map((seed) => meddle(writers[seed % 2] ?? store, seed));
      const claimed = await Promise.all(
        claimers.map((claimer, i) =>
          drain(claimer, `w${i}`, {
            maxRunningPerRepo: 3,
            whileHeld: async (run) => {
              const renewal = await claimer.renewRunLease(
                { runId: run.id, leaseOwner: `w${i}`, fencingToken: run.fencingToken },
                run.leaseExpiresAt ?? '',
              );
              expect(renewal).toEqual({ held: true, cancelRequested: false });
            },
          }),
        ),
      ).finally(() => {
        draining = false;
      });
      await Promise.all(meddlers);
      await expectAllFinishedOnce(count, claimed);
      for (let n = 1; n <= count; n += 1) {
        const chain = await store.readEvents(sessionId(n));
        expect(chain).toHaveLength(3 + (notes.get(n) ?? 0));
        expectValidChain(chain, await store.getSession(sessionId(n)));
      }
    });
  });
}
