import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionRecorder, sessionEvent } from '../../src/sessions/index.js';
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
