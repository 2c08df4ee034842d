import { type EventEmitter, once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionRecorder, sessionEvent } from '../../src/sessions/index.js';
import type { StoredEvent } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import { expectError, type RunningApi, startApi, submitQueued } from './api-fixture.js';
import { openSse, type SseEvent } from './sse-client.js';

/**
 * The event stream's correctness rule: every seq exactly once, in order, whether an event
 * arrives through the bus, through polling (another process wrote it), or after a reconnect.
 * Polling is set to an hour where a test must prove the bus alone delivers.
 */

const dialects = await storeDialects();

function appendLog(api: RunningApi, sessionId: string, runId: string, message: string) {
  return new SessionRecorder(api, sessionId, 'agent').append(
    sessionEvent('agent.event', { runId, attempt: 1, type: 'log', message, data: null }),
  );
}

function seqs(events: readonly SseEvent[]): number[] {
  return events.map((event) => Number(event.id));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function streamUrl(api: RunningApi, sessionId: string, query = ''): string {
  return `${api.url}/api/v1/sessions/${sessionId}/events/stream${query}`;
}

function auth(api: RunningApi, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${api.secrets.viewer}`, ...extra };
}

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`event stream: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;

    beforeAll(async () => {
      fixture = await dialect.open();
      api = await startApi(fixture, { streamPollMs: 60 * 60 * 1000 });
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    it('replays the stored events, then follows new ones through the bus', async () => {
      const { sessionId, runId } = await submitQueued(api);
      await appendLog(api, sessionId, runId, 'before');
      const stored = await api.store.readEvents(sessionId);
      const stream = await openSse(streamUrl(api, sessionId), auth(api));
      try {
        expect(stream.status).toBe(200);
        expect(stream.contentType).toMatch(/^text\/event-stream/);
        const replay = await stream.take(stored.length);
        expect(seqs(replay)).toEqual(range(1, stored.length));
        expect(replay.map((event) => event.event)).toEqual(stored.map((event) => event.type));
        expect(replay.map((event) => JSON.parse(event.data) as StoredEvent)).toEqual(stored);

        await appendLog(api, sessionId, runId, 'live');
        const [live] = await stream.take(1);
        expect(live?.id).toBe(String(stored.length + 1));
        expect((JSON.parse(live?.data ?? '{}') as StoredEvent).data).toMatchObject({
          message: 'live',
        });
      } finally {
        stream.close();
      }
    });

    it('delivers a burst of concurrent appends in seq order, none skipped or repeated', async () => {
      const { sessionId, runId } = await submitQueued(api);
      const stream = await openSse(streamUrl(api, sessionId), auth(api));
      try {
        await stream.take(2);
        await Promise.all(range(1, 40).map((i) => appendLog(api, sessionId, runId, `burst ${i}`)));
        const burst = await stream.take(40);
        expect(seqs(burst)).toEqual(range(3, 42));
      } finally {
        stream.close();
      }
    });

    it('resumes after a dropped connection with exactly the missing events', async () => {
      const { sessionId, runId } = await submitQueued(api);
      for (let i = 0; i < 5; i += 1) await appendLog(api, sessionId, runId, `first ${i}`);
      const first = await openSse(streamUrl(api, sessionId), auth(api));
      const received = await first.take(4);
      first.close();
      await first.ended;
      const lastId = received.at(-1)?.id ?? '';
      // Written while the client was away.
      for (let i = 0; i < 6; i += 1) await appendLog(api, sessionId, runId, `away ${i}`);
      const total = (await api.store.getSession(sessionId))?.lastSeq ?? 0;
      expect(total).toBe(13);

      const second = await openSse(
        // The original URL (with its `after`) is kept on reconnect; Last-Event-ID wins.
        streamUrl(api, sessionId, '?after=0'),
        auth(api, { 'last-event-id': lastId }),
      );
      try {
        const rest = await second.take(total - 4);
        expect([...seqs(received), ...seqs(rest)]).toEqual(range(1, total));
        await appendLog(api, sessionId, runId, 'after reconnect');
        expect(seqs(await second.take(1))).toEqual([total + 1]);
      } finally {
        second.close();
      }
    });

    it('starts after ?after= when no Last-Event-ID is sent', async () => {
      const { sessionId, runId } = await submitQueued(api);
      for (let i = 0; i < 3; i += 1) await appendLog(api, sessionId, runId, `n ${i}`);
      const stream = await openSse(streamUrl(api, sessionId, '?after=3'), auth(api));
      try {
        expect(seqs(await stream.take(2))).toEqual([4, 5]);
      } finally {
        stream.close();
      }
    });

    it('delivers events another store instance wrote (no bus) by polling', async () => {
      const polling = await startApi(fixture, { streamPollMs: 20 });
      const otherProcess = await fixture.openAnother();
      try {
        const { sessionId } = await submitQueued(polling);
        const stream = await openSse(streamUrl(polling, sessionId), auth(polling));
        try {
          await stream.take(2);
          for (let i = 0; i < 5; i += 1) {
            await otherProcess.appendEvents(sessionId, [
              { type: 'agent.event', at: polling.clock.nowIso(), actor: 'elsewhere', data: { i } },
            ]);
          }
          const arrived = await stream.take(5);
          expect(seqs(arrived)).toEqual(range(3, 7));
          expect(arrived.map((event) => (JSON.parse(event.data) as StoredEvent).actor)).toEqual(
            Array(5).fill('elsewhere'),
          );
        } finally {
          stream.close();
        }
      } finally {
        await polling.close();
      }
    });

    it('polls once for all idle streams, and reads only the sessions that moved on', async () => {
      // Counts the store's polls and its event reads by session; the rest passes through.
      let polls = 0;
      /** How many sessions each poll asked about. */
      const asked: number[] = [];
      const reads = new Map<string, number>();
      const counted = new Proxy(fixture.store, {
        get(target, key, receiver) {
          const value: unknown = Reflect.get(target, key, receiver);
          if (typeof value !== 'function') return value;
          if (key === 'readEvents' || key === 'lastSeqs') {
            return (...args: unknown[]) => {
              if (key === 'lastSeqs') {
                polls += 1;
                asked.push((args[0] as readonly string[]).length);
              } else reads.set(String(args[0]), (reads.get(String(args[0])) ?? 0) + 1);
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return value.bind(target);
        },
      });
      const polling = await startApi(fixture, { store: counted, streamPollMs: 20 });
      const otherProcess = await fixture.openAnother();
      try {
        const quiet = await submitQueued(polling);
        const busy = await submitQueued(polling);
        const streams = await Promise.all(
          [quiet, quiet, busy, busy].map(({ sessionId }) =>
            openSse(streamUrl(polling, sessionId), auth(polling)),
          ),
        );
        try {
          const pollsPast = async (count: number) => {
            const target = polls + count;
            while (polls < target) await new Promise((resolve) => setTimeout(resolve, 10));
          };
          for (const stream of streams) await stream.take(2);
          // A poll during a stream's first read may have asked for one more read: let it end.
          await pollsPast(2);
          const readsWhenIdle = new Map(reads);
          asked.length = 0;
          await pollsPast(5);
          // Five polls of four idle streams read no events at all, and each poll asked about
          // every stream at once.
          expect(reads).toEqual(readsWhenIdle);
          expect(new Set(asked)).toEqual(new Set([4]));
          await otherProcess.appendEvents(busy.sessionId, [
            { type: 'agent.event', at: polling.clock.nowIso(), actor: 'elsewhere', data: {} },
          ]);
          for (const stream of streams.slice(2)) expect(seqs(await stream.take(1))).toEqual([3]);
          // Only the busy session's streams read.
          expect(reads.get(quiet.sessionId)).toBe(readsWhenIdle.get(quiet.sessionId));
          expect(reads.get(busy.sessionId)).toBeGreaterThanOrEqual(
            (readsWhenIdle.get(busy.sessionId) ?? 0) + 2,
          );
        } finally {
          for (const stream of streams) stream.close();
        }
      } finally {
        await polling.close();
      }
    });

    it('reads at once, not at its next poll, when the bus may have missed events', async () => {
      // This server polls once an hour: only the bus's word can wake the stream.
      const otherProcess = await fixture.openAnother();
      const { sessionId } = await submitQueued(api);
      const stream = await openSse(streamUrl(api, sessionId), auth(api));
      try {
        await stream.take(2);
        await otherProcess.appendEvents(sessionId, [
          { type: 'agent.event', at: api.clock.nowIso(), actor: 'elsewhere', data: {} },
        ]);
        api.bus.reportMissed();
        expect(seqs(await stream.take(1))).toEqual([3]);
      } finally {
        stream.close();
      }
    });

    it('sends keep-alive comments', async () => {
      const chatty = await startApi(fixture, { streamKeepAliveMs: 10 });
      try {
        const { sessionId } = await submitQueued(chatty);
        const stream = await openSse(streamUrl(chatty, sessionId), auth(chatty));
        await stream.until(() => stream.comments.filter((c) => c === 'keep-alive').length >= 2);
        stream.close();
      } finally {
        await chatty.close();
      }
    });

    it('stops following (bus listener and timers) when the client goes away', async () => {
      // A server of its own, so that no other test's streams are open on it.
      const own = await startApi(fixture);
      try {
        // White-box: the bus's own emitter shows whether a stream still listens.
        const emitter = Reflect.get(own.bus, 'emitter') as EventEmitter;
        const baseline = emitter.listenerCount('*');
        // The other channel they listen on: whether the bus may have missed events.
        const missedListeners = () =>
          emitter
            .eventNames()
            .filter((name) => typeof name === 'symbol')
            .reduce((sum, name) => sum + emitter.listenerCount(name), 0);
        const missedBaseline = missedListeners();
        const { sessionId } = await submitQueued(own);
        const streams = await Promise.all(
          range(1, 3).map(() => openSse(streamUrl(own, sessionId), auth(own))),
        );
        for (const stream of streams) await stream.take(2);
        // One listener for all the streams, which hands each event to its session's streams.
        expect(emitter.listenerCount('*')).toBe(baseline + 1);
        expect(missedListeners()).toBe(missedBaseline + 1);
        for (const stream of streams) stream.close();
        while (emitter.listenerCount('*') > baseline) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        expect(emitter.listenerCount('*')).toBe(baseline);
        expect(missedListeners()).toBe(missedBaseline);
      } finally {
        await own.close();
      }
    });

    it('ends open streams when the server closes, so the close completes', async () => {
      const closing = await startApi(fixture);
      const { sessionId } = await submitQueued(closing);
      const streams = await Promise.all(
        range(1, 3).map(() => openSse(streamUrl(closing, sessionId), auth(closing))),
      );
      for (const stream of streams) await stream.take(2);
      await closing.close();
      await Promise.all(streams.map((stream) => stream.ended));
      // Nothing of the server (streams, metrics) still listens to the bus.
      expect((Reflect.get(closing.bus, 'emitter') as EventEmitter).listenerCount('*')).toBe(0);
    });

    it("a client that stopped reading does not hold up the server's close", async () => {
      const closing = await startApi(fixture);
      const { sessionId, runId } = await submitQueued(closing);
      // Far more than the socket buffers on both sides hold: the stream's writes back up.
      const message = 'x'.repeat(32_000);
      for (let i = 0; i < 1_000; i += 1) await appendLog(closing, sessionId, runId, message);
      const url = new URL(streamUrl(closing, sessionId));
      const socket = connect(Number(url.port), url.hostname);
      await once(socket, 'connect');
      socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${closing.secrets.viewer}\r\nAccept: text/event-stream\r\n\r\n`,
      );
      await once(socket, 'data');
      // Never read again, as a laptop that went to sleep: its window fills up.
      socket.pause();
      const gone = once(socket, 'close');
      await closing.close();
      // The server let go of the connection it could not finish: reading again, the client
      // gets what was already on its way, then the end.
      socket.resume();
      await gone;
    });

    it('refuses unknown sessions, malformed ids and resume points, and missing tokens', async () => {
      const { sessionId } = await submitQueued(api);
      const get = (url: string, headers: Record<string, string>) => fetch(url, { headers });
      await expectError(await get(streamUrl(api, `ses_${'0'.repeat(24)}`), auth(api)), 'NOT_FOUND');
      await expectError(await get(streamUrl(api, 'ses_bad'), auth(api)), 'REQUEST_INVALID', 'id');
      await expectError(
        await get(streamUrl(api, sessionId), auth(api, { 'last-event-id': 'abc' })),
        'REQUEST_INVALID',
        'last-event-id',
      );
      await expectError(
        await get(streamUrl(api, sessionId, '?after=-2'), auth(api)),
        'REQUEST_INVALID',
        'after',
      );
      // Past what a seq can be (a 32-bit integer in the database): refused, never a 500 or a
      // stream that can never start.
      await expectError(
        await get(streamUrl(api, sessionId), auth(api, { 'last-event-id': '2147483648' })),
        'REQUEST_INVALID',
        'last-event-id',
      );
      await expectError(
        await get(streamUrl(api, sessionId, '?after=2147483648'), auth(api)),
        'REQUEST_INVALID',
        'after',
      );
      await expectError(
        await get(`${api.url}/api/v1/sessions/${sessionId}/events?after=2147483648`, auth(api)),
        'REQUEST_INVALID',
        'after',
      );
      await expectError(await get(streamUrl(api, sessionId), {}), 'UNAUTHENTICATED');
      await expectError(
        await get(streamUrl(api, sessionId), { authorization: `Bearer ${api.secrets.worker}` }),
        'FORBIDDEN',
      );
    });
  });
}
