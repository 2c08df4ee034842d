import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { relayCommittedEvents } from '../../src/app/index.js';
import { type AasError, isAasError, silentLogger } from '../../src/kernel/index.js';
import { EventBus, type EventOrigin } from '../../src/sessions/index.js';
import {
  COMMITTED_EVENTS_CHANNEL,
  parseAnnouncements,
} from '../../src/store/commit-announcements.js';
import {
  type CommittedEventsFeed,
  followCommittedEvents,
  type NewEvent,
  openLeadership,
  type Store,
  type StoredEvent,
} from '../../src/store/index.js';
import { PostgresListener } from '../../src/store/postgres-listener.js';
import {
  POSTGRES_REQUIRED,
  POSTGRES_TEST_URL,
  type StoreFixture,
  storeDialects,
} from './dialects.js';
import {
  at,
  attemptId,
  claim,
  createQueuedRun,
  event,
  finish,
  runId,
  sessionId,
} from './queue-helpers.js';

/**
 * Replicas on one database: what one store commits reaches the other's bus (PostgreSQL
 * LISTEN/NOTIFY), once, in seq order, and only once committed. Nothing here asserts how fast:
 * "exactly once" is shown by ordering (a later marker from the same session arrives after
 * anything that could have been a duplicate), never by waiting a while for nothing to happen.
 */

const dialects = await storeDialects();
const postgres = dialects.find((dialect) => dialect.name === 'postgres');
const sqlite = dialects.find((dialect) => dialect.name === 'sqlite');

/** Only stops a broken build from hanging the suite; nothing asserts a duration. */
async function until(what: string, predicate: () => boolean, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A replica: a store with its own bus, relaying the other stores' events onto it. */
interface Replica {
  readonly store: Store;
  readonly bus: EventBus;
  /** `sessionId#seq` of every event the bus carried, in arrival order. */
  readonly seen: string[];
  /** The origin each of those was published with. */
  readonly origins: EventOrigin[];
  /** Publishes what this replica committed, as its SessionRecorder would. */
  commit(events: readonly StoredEvent[]): void;
  count(session: string, seq: number): number;
}

const key = (event: StoredEvent) => `${event.sessionId}#${event.seq}`;

function usage(run: string, costUsd: number): NewEvent {
  return event('agent.usage', 0, {
    runId: run,
    provider: 'anthropic',
    model: 'claude',
    inputTokens: 1,
    outputTokens: 1,
    cachedInputTokens: 0,
    costUsd,
  });
}

describe.skipIf(!postgres?.available && !POSTGRES_REQUIRED)(
  'committed events across replicas (PostgreSQL)',
  () => {
    let fixture: StoreFixture;
    const feeds: CommittedEventsFeed[] = [];

    afterEach(async () => {
      for (const feed of feeds.splice(0)) await feed.close();
      await fixture?.cleanup();
    });

    async function replica(store: Store): Promise<Replica> {
      const bus = new EventBus();
      const seen: string[] = [];
      const origins: EventOrigin[] = [];
      bus.onAny((event, origin) => {
        seen.push(key(event));
        origins.push(origin);
      });
      const feed = relayCommittedEvents({ store, bus, log: silentLogger });
      feeds.push(feed);
      await feed.ready;
      return {
        store,
        bus,
        seen,
        origins,
        commit: (events) => bus.publish(events),
        count: (session, seq) => seen.filter((entry) => entry === `${session}#${seq}`).length,
      };
    }

    async function twoReplicas(): Promise<[Replica, Replica]> {
      if (!postgres) throw new Error('unreachable');
      fixture = await postgres.open();
      return [await replica(fixture.store), await replica(await fixture.openAnother())];
    }

    it("puts one replica's events on the other's bus once, and on its own once", async () => {
      const [a, b] = await twoReplicas();
      const s = sessionId(1);
      a.commit(await createQueuedRun(a.store, 1));
      a.commit(await a.store.appendEvents(s, [event('agent.output', 1), event('agent.output', 2)]));
      await until('B to see seq 3', () => b.count(s, 3) === 1);
      expect(b.seen).toEqual([`${s}#1`, `${s}#2`, `${s}#3`]);

      // B writes to the same session; A hears of it after anything it could have heard of its
      // own writes (one connection delivers in commit order, one session is relayed in order).
      b.commit(await b.store.appendEvents(s, [event('agent.output', 3)]));
      await until('A to see seq 4', () => a.count(s, 4) === 1);
      expect(a.seen).toEqual([`${s}#1`, `${s}#2`, `${s}#3`, `${s}#4`]);

      // And a marker from A bounds whatever B might still have received about seqs 1–4.
      a.commit(await a.store.appendEvents(s, [event('agent.output', 4)]));
      await until('B to see seq 5', () => b.count(s, 5) === 1);
      expect(b.seen).toEqual([`${s}#1`, `${s}#2`, `${s}#3`, `${s}#4`, `${s}#5`]);
      // Relayed events say so: counters of what this process did skip them.
      expect(a.origins).toEqual(['local', 'local', 'local', 'replica', 'local']);
      expect(b.origins).toEqual(['replica', 'replica', 'replica', 'local', 'replica']);
    });

    it('relays the events themselves, in seq order, for appends of any size', async () => {
      const [a, b] = await twoReplicas();
      const relayed: StoredEvent[] = [];
      b.bus.onAny((event) => relayed.push(event));
      const s = sessionId(2);
      const committed = [...(await createQueuedRun(a.store, 2))];
      // 600 events are three INSERTs in one transaction: one announcement for all of them.
      const batch = Array.from({ length: 600 }, (_, i) => event('agent.output', i, { i }));
      committed.push(...(await a.store.appendEvents(s, batch)));
      for (let i = 0; i < 20; i++) {
        committed.push(...(await a.store.appendEvents(s, [event('agent.output', 1_000 + i)])));
      }
      await until('B to see everything', () => relayed.length >= committed.length);
      expect(relayed).toEqual(committed);
      expect(relayed.map((e) => e.seq)).toEqual(committed.map((_, index) => index + 1));
    });

    it('announces every kind of write that appends events', async () => {
      const [a, b] = await twoReplicas();
      const relayed: StoredEvent[] = [];
      b.bus.onAny((event) => relayed.push(event));
      const s = sessionId(6);
      // A run's life as the queue and the runner write it; each store path inserts events.
      await createQueuedRun(a.store, 6);
      const claimed = await claim(a.store, 'runner:a');
      if (claimed === null) throw new Error('nothing was claimed');
      const fence = {
        runId: claimed.run.id,
        leaseOwner: 'runner:a',
        fencingToken: claimed.run.fencingToken,
      };
      const attempt = { id: attemptId(6), runId: claimed.run.id, number: 1, agentId: 'mock' };
      await a.store.createAttempt({
        attempt: { ...attempt, startedAt: at(1) },
        events: [event('attempt.started', 1)],
        fence,
      });
      await a.store.appendEvents(s, [event('agent.output', 2)], fence);
      await a.store.updateRun({
        runId: claimed.run.id,
        expect: { status: ['running'], leaseOwner: 'runner:a', fencingToken: fence.fencingToken },
        changes: { baseRef: 'main' },
        events: [event('run.base.resolved', 3)],
      });
      await a.store.finishAttempt({
        attemptId: attempt.id,
        status: 'succeeded',
        reasonCode: null,
        finishedAt: at(4),
        detail: {},
        events: [event('attempt.finished', 4)],
        fence,
      });
      await finish(a.store, claimed.run);
      const committed = await a.store.readEvents(s);
      expect(committed.map((e) => e.type)).toEqual([
        'session.created',
        'run.started',
        'attempt.started',
        'agent.output',
        'run.base.resolved',
        'attempt.finished',
        'run.completed',
      ]);
      // On a failure, the diff below names the kind of write that was not announced.
      await until('B to see the whole run', () => relayed.length >= committed.length).catch(
        () => undefined,
      );
      expect(relayed.map((e) => `${e.seq} ${e.type}`)).toEqual(
        committed.map((e) => `${e.seq} ${e.type}`),
      );
      expect(relayed).toEqual(committed);
    });

    it('announces a statement of several claims or finishes once, naming what it appended', async () => {
      if (!postgres) throw new Error('unreachable');
      fixture = await postgres.open();
      const store = fixture.store;
      for (const n of [1, 2, 3]) await createQueuedRun(store, n);
      const listener = new pg.Client({ connectionString: fixture.databaseUrl });
      await listener.connect();
      const payloads: string[] = [];
      listener.on('notification', (message) => payloads.push(message.payload ?? ''));
      const appends = (payload: string | undefined) =>
        parseAnnouncements(payload ?? '')
          .map((a) => [a.sessionId, a.firstSeq, a.lastSeq])
          .sort();
      // Notifications arrive in commit order: once this one is in, nothing committed before it
      // can still come.
      const sentinel = async () => {
        await listener.query(`NOTIFY ${COMMITTED_EVENTS_CHANNEL}, 'sentinel'`);
        await until('the sentinel', () => payloads.at(-1) === 'sentinel');
      };
      try {
        await listener.query(`LISTEN ${COMMITTED_EVENTS_CHANNEL}`);
        // Called together, the three claims share one statement (postgres-batches.ts); each
        // appends run.started after its session's first event.
        const claimed = await Promise.all(
          ['runner:1', 'runner:2', 'runner:3'].map((owner) => claim(store, owner)),
        );
        await sentinel();
        expect(payloads).toHaveLength(2);
        expect(appends(payloads[0])).toEqual([1, 2, 3].map((n) => [sessionId(n), 2, 2]));

        // Three finishes in one statement, one of them under a stale fence: it appends nothing,
        // so the announcement leaves its session out.
        payloads.length = 0;
        const runs = claimed.map((one) => {
          if (one === null) throw new Error('three claims expected');
          return one.run;
        });
        const finished = await Promise.allSettled(
          runs.map((run, index) => finish(store, index === 1 ? { ...run, fencingToken: 9 } : run)),
        );
        expect(finished.map((outcome) => outcome.status)).toEqual([
          'fulfilled',
          'rejected',
          'fulfilled',
        ]);
        await sentinel();
        expect(payloads).toHaveLength(2);
        expect(appends(payloads[0])).toEqual([1, 3].map((n) => [sessionId(n), 3, 3]));

        // A claim that finds nothing announces nothing.
        payloads.length = 0;
        expect(await claim(store, 'runner:4')).toBeNull();
        await sentinel();
        expect(payloads).toEqual(['sentinel']);
      } finally {
        await listener.end();
      }
    });

    it('delivers every event once to every bus when both replicas write one session', async () => {
      const [a, b] = await twoReplicas();
      const s = sessionId(3);
      a.commit(await createQueuedRun(a.store, 3));
      await Promise.all(
        [a, b].flatMap((writer) =>
          Array.from({ length: 25 }, async (_, i) =>
            writer.commit(await writer.store.appendEvents(s, [event('agent.output', i)])),
          ),
        ),
      );
      const last = 51;
      await until('both buses to see every seq', () =>
        [a, b].every((r) =>
          Array.from({ length: last }, (_, i) => r.count(s, i + 1)).every(Boolean),
        ),
      );
      // A marker from each side, then every seq is still there exactly once. Both markers, on
      // both buses: a bus carries its own marker at once and the other's when the relay brings
      // it, and a session written by two processes may arrive out of seq order (EventBus).
      a.commit(await a.store.appendEvents(s, [event('agent.output', 100)]));
      b.commit(await b.store.appendEvents(s, [event('agent.output', 101)]));
      await until('the markers', () =>
        [a, b].every((r) => r.count(s, 52) === 1 && r.count(s, 53) === 1),
      );
      for (const r of [a, b]) {
        expect([...r.seen].sort()).toEqual(
          Array.from({ length: 53 }, (_, i) => `${s}#${i + 1}`).sort(),
        );
      }
    });

    it('announces nothing for a write that rolled back', async () => {
      const [a, b] = await twoReplicas();
      const s = sessionId(4);
      a.commit(await createQueuedRun(a.store, 4));
      await until('B to see the session', () => b.count(s, 1) === 1);
      // The spend of a usage event is recorded after the events are inserted (and announced):
      // a bad one rolls the whole append back, the announcement with it.
      const refused = await a.store
        .appendEvents(s, [event('agent.output', 1), usage('run_unknown', 1)])
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(isAasError(refused) && refused.code).toBe('INVALID_ARGUMENT');
      a.commit(await a.store.appendEvents(s, [usage(runId(4), 0.5)]));
      await until('B to see the committed append', () => b.count(s, 2) === 1);
      const relayed = b.seen.filter((entry) => entry.startsWith(s));
      expect(relayed).toEqual([`${s}#1`, `${s}#2`]);
      expect((await b.store.readEvents(s)).map((e) => e.type)).toEqual([
        'session.created',
        'agent.usage',
      ]);
    });

    it('listens again after the database dropped its connection', async () => {
      if (!postgres) throw new Error('unreachable');
      fixture = await postgres.open();
      const writer = fixture.store;
      const follower = await fixture.openAnother();
      const relayed: StoredEvent[] = [];
      const troubles: AasError[] = [];
      let reconnects = 0;
      const feed = followCommittedEvents(
        follower,
        {
          onEvents: (events) => relayed.push(...events),
          onTrouble: (error) => troubles.push(error),
          onConnected: (reconnected) => {
            if (reconnected) reconnects += 1;
          },
        },
        { timing: { initialBackoffMs: 20, maxBackoffMs: 200 } },
      );
      feeds.push(feed);
      await feed.ready;
      await createQueuedRun(writer, 5);
      await until('the first event', () => relayed.length === 1);

      // What a database restart does to the listening session.
      const database = new URL(fixture.databaseUrl ?? '').pathname.slice(1);
      await fixture.rawQuery(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = '${database}' AND application_name = 'aas-event-listener'`,
      );
      await until('the feed to listen again', () => reconnects === 1);
      expect(troubles.map((error) => error.code)).toContain('STORE_UNAVAILABLE');
      await writer.appendEvents(sessionId(5), [event('agent.output', 1)]);
      await until('the event after the reconnect', () => relayed.length === 2);
      expect(relayed.map((e) => e.seq)).toEqual([1, 2]);
    });

    it('tells the bus it may have missed events when it listens again after a loss', async () => {
      if (!postgres) throw new Error('unreachable');
      fixture = await postgres.open();
      const bus = new EventBus();
      let missed = 0;
      bus.onMissed(() => {
        missed += 1;
      });
      const feed = relayCommittedEvents(
        { store: await fixture.openAnother(), bus, log: silentLogger },
        { timing: { initialBackoffMs: 20, maxBackoffMs: 200 } },
      );
      feeds.push(feed);
      await feed.ready;
      // The first connection is not a reconnection: nothing was missed before it.
      expect(missed).toBe(0);
      const database = new URL(fixture.databaseUrl ?? '').pathname.slice(1);
      await fixture.rawQuery(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = '${database}' AND application_name = 'aas-event-listener'`,
      );
      await until('the bus to hear of the gap', () => missed === 1);
    });

    it('counts a first connection made only after failed tries as a reconnection', async () => {
      if (!postgres) throw new Error('unreachable');
      // A port that drops every connection until told to pass them on to PostgreSQL.
      const target = new URL(POSTGRES_TEST_URL);
      let passing = false;
      const sockets = new Set<Socket>();
      const gateway = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        if (!passing) {
          socket.destroy();
          return;
        }
        const upstream = connect(Number(target.port || 5432), target.hostname);
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
      const address = gateway.address() as AddressInfo;
      const viaGateway = new URL(POSTGRES_TEST_URL);
      viaGateway.hostname = '127.0.0.1';
      viaGateway.port = String(address.port);
      const connected: boolean[] = [];
      let lost = 0;
      const listener = new PostgresListener(
        viaGateway.toString(),
        'aas_test_gateway',
        {
          onNotification: () => undefined,
          onConnected: (reconnected) => connected.push(reconnected),
          onLost: () => {
            lost += 1;
          },
        },
        { initialBackoffMs: 10, maxBackoffMs: 50 },
      );
      try {
        await listener.start();
        await until('a failed try', () => lost >= 1);
        passing = true;
        await until('the connection', () => connected.length === 1);
        // Whatever was announced before it listened went unheard.
        expect(connected).toEqual([true]);
      } finally {
        await listener.close();
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => gateway.close(resolve));
      }
    });

    it('lets exactly one contender lead, and the next one take over when it goes', async () => {
      if (!postgres) throw new Error('unreachable');
      fixture = await postgres.open();
      const other = await fixture.openAnother();
      const options = { checkEveryMs: 1_000 };
      const first = openLeadership(fixture.store, 'test-lead', options);
      const second = openLeadership(other, 'test-lead', options);
      const unrelated = openLeadership(other, 'another-lead', options);
      try {
        const answers = await Promise.all([first.check(), second.check()]);
        expect(answers.filter(Boolean)).toHaveLength(1);
        const [leader, follower] = answers[0] ? [first, second] : [second, first];
        // Asked again, nothing changes; another name is another lead.
        expect(await leader.check()).toBe(true);
        expect(await follower.check()).toBe(false);
        expect(await unrelated.check()).toBe(true);

        await leader.release();
        expect(await leader.check()).toBe(false);
        expect(await follower.check()).toBe(true);
      } finally {
        await Promise.all([first.release(), second.release(), unrelated.release()]);
      }
    });

    it('passes the lead on when the leader loses its connection', async () => {
      if (!postgres) throw new Error('unreachable');
      fixture = await postgres.open();
      const other = await fixture.openAnother();
      const troubles: AasError[] = [];
      const options = { checkEveryMs: 1_000, onTrouble: (error: AasError) => troubles.push(error) };
      const first = openLeadership(fixture.store, 'test-lead', options);
      const second = openLeadership(other, 'test-lead', options);
      try {
        expect(await first.check()).toBe(true);
        expect(await second.check()).toBe(false);
        // The leader's session ends as it would when its process dies.
        const database = new URL(fixture.databaseUrl ?? '').pathname.slice(1);
        const holders = (await fixture.rawQuery(
          `SELECT pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
            WHERE l.locktype = 'advisory' AND l.granted AND d.datname = '${database}'`,
        )) as { pid: number }[];
        expect(holders).toHaveLength(1);
        await fixture.rawQuery(`SELECT pg_terminate_backend(${Number(holders[0]?.pid)})`);

        let checks = 0;
        while (!(await second.check())) {
          checks += 1;
          if (checks > 3_000) throw new Error('the lead never passed on');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        // The old leader learns it lost the lead; it does not take it back.
        expect(await first.check()).toBe(false);
        expect(await second.check()).toBe(true);
      } finally {
        await Promise.all([first.release(), second.release()]);
      }
    });
  },
);

describe.skipIf(!sqlite?.available)('committed events and leadership on SQLite', () => {
  it('has nothing to follow and always leads: one process serves a file', async () => {
    if (!sqlite) throw new Error('unreachable');
    const fixture = await sqlite.open();
    try {
      const feed = followCommittedEvents(fixture.store, {
        onEvents: () => {
          throw new Error('nothing is relayed on SQLite');
        },
      });
      await feed.ready;
      await createQueuedRun(fixture.store, 1);
      await feed.close();
      const leadership = openLeadership(fixture.store, 'lease-sweep', { checkEveryMs: 1_000 });
      expect(await leadership.check()).toBe(true);
      const another = openLeadership(await fixture.openAnother(), 'lease-sweep', {
        checkEveryMs: 1_000,
      });
      expect(await another.check()).toBe(true);
    } finally {
      await fixture.cleanup();
    }
  });
});
