import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, SessionRecorder, sessionEvent } from '../../src/sessions/index.js';
import type { Store, StoredEvent } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import { expectError, type RunningApi, startApi, submitQueued } from './api-fixture.js';
import { openSse, type SseConnection } from './sse-client.js';

/**
 * GET /stream: one `session` frame per status change of any session, carrying the session as
 * the list shows it, fed by this process's bus. Polling is irrelevant here: the feed has none.
 */

const dialects = await storeDialects();

interface Item {
  readonly id: string;
  readonly runId: string | null;
  readonly status: string;
  readonly task: string;
  readonly lastSeq: number;
}

function items(frames: readonly { event: string | undefined; data: string }[]): Item[] {
  for (const frame of frames) expect(frame.event).toBe('session');
  return frames.map((frame) => JSON.parse(frame.data) as Item);
}

async function start(api: RunningApi, sessionId: string, runId: string) {
  await new SessionRecorder(api, sessionId, 'runner-1').updateRun(
    runId,
    {
      status: 'running',
      startedAt: api.clock.nowIso(),
      leaseOwner: 'runner-1',
      leaseExpiresAt: new Date(api.clock.nowMs() + 60_000).toISOString(),
    },
    [sessionEvent('run.started', { runId, owner: 'runner-1', leaseExpiresAt: api.clock.nowIso() })],
  );
}

async function finish(api: RunningApi, sessionId: string, runId: string) {
  await new SessionRecorder(api, sessionId, 'runner-1').updateRun(
    runId,
    { status: 'failed', reasonCode: 'AGENT_FAILED', finishedAt: api.clock.nowIso() },
    [
      sessionEvent('run.completed', {
        runId,
        status: 'failed',
        reasonCode: 'AGENT_FAILED',
        detail: 'exit 1',
        patchSha256: null,
      }),
    ],
  );
}

function log(api: RunningApi, sessionId: string, runId: string, message: string) {
  return new SessionRecorder(api, sessionId, 'agent').append(
    sessionEvent('agent.event', { runId, attempt: 1, type: 'log', message, data: null }),
    sessionEvent('gate.passed', {
      runId,
      attempt: 1,
      gate: 'static',
      code: 'GATES_PASSED',
      detail: '',
      durationMs: 1,
    }),
  );
}

/**
 * The store with the feed's reads under the test's control: `hold()` parks the next session
 * read until released, `holdRuns()` the next read of a session's runs (the session itself is
 * read by then); `failNext()` makes the next session read fail, and resolves once it did;
 * `breakReads()` makes every one fail; `nextRead()` resolves once a whole read (session, then
 * its runs) is done.
 */
function readGate(store: Store) {
  let parked: { entered: () => void; released: Promise<void> } | null = null;
  let parkedRuns: { entered: () => void; released: Promise<void> } | null = null;
  let failing: (() => void) | null = null;
  let broken: (() => void) | null = null;
  let readDone: (() => void) | null = null;
  const wrapped = new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'getSession') {
        return async (sessionId: string) => {
          const fail = failing ?? broken;
          failing = null;
          if (fail !== null) {
            fail();
            throw new Error('the database went away');
          }
          const park = parked;
          parked = null;
          if (park !== null) {
            park.entered();
            await park.released;
          }
          return target.getSession(sessionId);
        };
      }
      if (key === 'listRunsForSession') {
        return async (sessionId: string) => {
          const park = parkedRuns;
          parkedRuns = null;
          if (park !== null) {
            park.entered();
            await park.released;
          }
          const runs = await target.listRunsForSession(sessionId);
          const done = readDone;
          readDone = null;
          done?.();
          return runs;
        };
      }
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const parking = (park: (at: { entered: () => void; released: Promise<void> }) => void) => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const entered = new Promise<void>((resolve) => park({ entered: resolve, released }));
    return { entered, release };
  };
  return {
    store: wrapped,
    hold: () =>
      parking((at) => {
        parked = at;
      }),
    holdRuns: () =>
      parking((at) => {
        parkedRuns = at;
      }),
    breakReads() {
      let failures = 0;
      broken = () => {
        failures += 1;
      };
      return { failures: () => failures };
    },
    failNext() {
      return new Promise<void>((resolve) => {
        failing = resolve;
      });
    },
    nextRead() {
      return new Promise<void>((resolve) => {
        readDone = resolve;
      });
    },
  };
}

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`session feed: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;

    beforeAll(async () => {
      fixture = await dialect.open();
      api = await startApi(fixture);
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    const open = () =>
      openSse(`${api.url}/api/v1/stream`, { authorization: `Bearer ${api.secrets.viewer}` });

    it('sends each status change of any session once, as its list item', async () => {
      const feed = await open();
      try {
        expect(feed.status).toBe(200);
        expect(feed.contentType).toMatch(/^text\/event-stream/);
        const first = await submitQueued(api, { task: 'first' });
        const [queued] = items(await feed.take(1));

        const listed = await api.json<{ items: Item[] }>('/api/v1/sessions?limit=1');
        expect(queued).toEqual(listed.items[0]);
        expect(queued).toMatchObject({ id: first.sessionId, runId: first.runId, status: 'queued' });

        await start(api, first.sessionId, first.runId);
        expect(items(await feed.take(1))).toEqual([
          expect.objectContaining({ id: first.sessionId, status: 'running' }),
        ]);
        // Work that changes no status sends nothing: the next frame is the next change.
        await log(api, first.sessionId, first.runId, 'working');
        await log(api, first.sessionId, first.runId, 'still working');
        await finish(api, first.sessionId, first.runId);
        const [failed] = items(await feed.take(1));
        expect(failed).toMatchObject({ id: first.sessionId, status: 'failed' });
        expect(failed?.lastSeq).toBe((await api.store.getSession(first.sessionId))?.lastSeq);
        const second = await submitQueued(api, { task: 'second' });
        expect(items(await feed.take(1))).toEqual([
          expect.objectContaining({ id: second.sessionId, runId: second.runId, status: 'queued' }),
        ]);
      } finally {
        feed.close();
      }
    });

    it('may fold changes in quick succession into one frame with the latest state', async () => {
      const feed = await open();
      try {
        const { sessionId, runId } = await submitQueued(api);
        await feed.take(1);
        // Back to back: the feed reads the session after the first change's batch was
        // published, by which time the second may be committed too.
        await start(api, sessionId, runId);
        await finish(api, sessionId, runId);
        const marker = await submitQueued(api);
        const frames: Item[] = [];
        while (frames.at(-1)?.id !== marker.sessionId) frames.push(...items(await feed.take(1)));
        const statuses = frames.slice(0, -1).map((item) => item.status);
        expect([['failed'], ['running', 'failed']]).toContainEqual(statuses);
      } finally {
        feed.close();
      }
    });

    it('tells every client, and a cancel through the API is a change like any other', async () => {
      const [a, b] = await Promise.all([open(), open()]);
      try {
        const { sessionId, runId } = await submitQueued(api);
        await a.take(1);
        await b.take(1);
        const response = await api.request(`/api/v1/runs/${runId}/cancel`, {
          method: 'POST',
          secret: api.secrets.operator,
        });
        expect(response.status).toBe(202);
        for (const feed of [a, b]) {
          expect(items(await feed.take(1))).toEqual([
            expect.objectContaining({ id: sessionId, status: 'cancelled' }),
          ]);
        }
      } finally {
        a.close();
        b.close();
      }
    });

    it('learns the status of a session last changed before it listened without sending it', async () => {
      const older = await submitQueued(api);
      await start(api, older.sessionId, older.runId);
      const feed = await open();
      try {
        // Not a status event: the feed learns "running" and stays silent.
        await log(api, older.sessionId, older.runId, 'before the change');
        await finish(api, older.sessionId, older.runId);
        expect(items(await feed.take(1))).toEqual([
          expect.objectContaining({ id: older.sessionId, status: 'failed' }),
        ]);
      } finally {
        feed.close();
      }
    });

    /**
     * A server whose feed reads go through a read gate, a session that was running before its
     * feed opened (so the feed knows nothing of it), and that feed; `scenario` then orders the
     * feed's reads against the session's next changes, and the session's end must be sent.
     */
    async function endIsSent(
      scenario: (
        gated: RunningApi,
        gate: ReturnType<typeof readGate>,
        older: { sessionId: string; runId: string },
      ) => Promise<void>,
    ) {
      const gate = readGate(fixture.store);
      const gated = await startApi(fixture, { store: gate.store });
      const older = await submitQueued(gated);
      await start(gated, older.sessionId, older.runId);
      const feed = await openSse(`${gated.url}/api/v1/stream`, {
        authorization: `Bearer ${gated.secrets.viewer}`,
      });
      try {
        await scenario(gated, gate, older);
        expect(items(await feed.take(1))).toEqual([
          expect.objectContaining({ id: older.sessionId, status: 'failed' }),
        ]);
      } finally {
        feed.close();
        await gated.close();
      }
    }

    it('sends a change announced while a read for other news was in flight', async () => {
      await endIsSent(async (gated, gate, older) => {
        const held = gate.hold();
        await log(gated, older.sessionId, older.runId, 'before the change');
        await held.entered;
        // The change commits and is announced while the read for the log is parked; the
        // parked read then sees it committed.
        await finish(gated, older.sessionId, older.runId);
        held.release();
      });
    });

    it('sends a change a read for other news saw before it was announced', async () => {
      await endIsSent(async (gated, gate, older) => {
        // The change commits, but its announcement is held back...
        const unannounced: StoredEvent[] = [];
        const elsewhere = new EventBus();
        elsewhere.onAny((event) => unannounced.push(event));
        await finish({ ...gated, bus: elsewhere }, older.sessionId, older.runId);
        // ...while the read for a later log learns the new status...
        const read = gate.nextRead();
        await log(gated, older.sessionId, older.runId, 'after the change');
        await read;
        await new Promise<void>((resolve) => setImmediate(resolve));
        // ...and only then does the announcement arrive.
        expect(unannounced.map((event) => event.type)).toEqual(['run.completed']);
        gated.bus.publish(unannounced);
      });
    });

    it('reads a session again when its read failed', async () => {
      await endIsSent(async (gated, gate, older) => {
        const failed = gate.failNext();
        await finish(gated, older.sessionId, older.runId);
        await failed;
      });
    });

    it('still sends a change whose read failed when later news is read first', async () => {
      await endIsSent(async (gated, gate, older) => {
        const failed = gate.failNext();
        await finish(gated, older.sessionId, older.runId);
        await failed;
        // Read long before the retry: it learns "failed", which must still count as news.
        const read = gate.nextRead();
        await log(gated, older.sessionId, older.runId, 'after the change');
        await read;
      });
    });

    it('gives up on a session whose reads keep failing, and has every client reload', async () => {
      const gate = readGate(fixture.store);
      const gated = await startApi(fixture, { store: gate.store, feedRetryMs: 10 });
      const older = await submitQueued(gated);
      const feed = await openSse(`${gated.url}/api/v1/stream`, {
        authorization: `Bearer ${gated.secrets.viewer}`,
      });
      try {
        const reads = gate.breakReads();
        await start(gated, older.sessionId, older.runId);
        expect(await feed.take(1)).toEqual([expect.objectContaining({ event: 'resync' })]);
        expect(reads.failures()).toBe(5);
      } finally {
        feed.close();
        await gated.close();
      }
    });

    it('sends nothing of a read that began before a resync', async () => {
      const gate = readGate(fixture.store);
      const gated = await startApi(fixture, { store: gate.store });
      const feed = await openSse(`${gated.url}/api/v1/stream`, {
        authorization: `Bearer ${gated.secrets.viewer}`,
      });
      try {
        const older = await submitQueued(gated);
        expect(items(await feed.take(1))).toEqual([
          expect.objectContaining({ id: older.sessionId, status: 'queued' }),
        ]);
        // The read of the run's start has its session (running) when the resync comes: the
        // clients reload a list with that in it, and the read's result is dropped.
        const held = gate.holdRuns();
        await start(gated, older.sessionId, older.runId);
        await held.entered;
        gated.bus.reportMissed();
        expect(await feed.take(1)).toEqual([expect.objectContaining({ event: 'resync' })]);
        held.release();
        const marker = await submitQueued(gated);
        expect(items(await feed.take(1))).toEqual([
          expect.objectContaining({ id: marker.sessionId, status: 'queued' }),
        ]);
      } finally {
        feed.close();
        await gated.close();
      }
    });

    it('tells every client to reload its list when the bus may have missed changes', async () => {
      const [a, b] = await Promise.all([open(), open()]);
      try {
        api.bus.reportMissed();
        for (const feed of [a, b]) {
          expect(await feed.take(1)).toEqual([
            expect.objectContaining({ event: 'resync', data: '{}' }),
          ]);
        }
        // And it goes on with the changes after.
        const { sessionId } = await submitQueued(api);
        expect(items(await a.take(1))).toEqual([
          expect.objectContaining({ id: sessionId, status: 'queued' }),
        ]);
      } finally {
        a.close();
        b.close();
      }
    });

    it('keeps the connection alive with comments and needs a reader token', async () => {
      const chatty = await startApi(fixture, { streamKeepAliveMs: 10 });
      let feed: SseConnection | null = null;
      try {
        feed = await openSse(`${chatty.url}/api/v1/stream`, {
          authorization: `Bearer ${chatty.secrets.viewer}`,
        });
        const comments = feed.comments;
        await feed.until(() => comments.filter((c) => c === 'keep-alive').length >= 2);
        expect(comments[0]).toBe('stream open');
        await expectError(
          await fetch(`${chatty.url}/api/v1/stream`, {
            headers: { authorization: `Bearer ${chatty.secrets.worker}` },
          }),
          'FORBIDDEN',
        );
        await expectError(await fetch(`${chatty.url}/api/v1/stream`), 'UNAUTHENTICATED');
        await expectError(await chatty.request('/api/v1/stream?x=1'), 'REQUEST_INVALID', 'x');
      } finally {
        feed?.close();
        await chatty.close();
      }
    });

    it('ends open feeds when the server closes', async () => {
      const closing = await startApi(fixture);
      const feed = await openSse(`${closing.url}/api/v1/stream`, {
        authorization: `Bearer ${closing.secrets.viewer}`,
      });
      await closing.close();
      await feed.ended;
      expect(feed.comments).toContain('stream open');
    });
  });
}
