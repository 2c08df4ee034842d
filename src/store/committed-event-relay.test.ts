import { describe, expect, it } from 'vitest';
import { AasError, type AasError as AasErrorType } from '../kernel/index.js';
import { CommittedEventRelay } from './committed-event-relay.js';
import type { EventRange, StoredEvent } from './records.js';

const payload = (origin: string, s: string, f: number, l: number) =>
  JSON.stringify({ o: origin, s, f, l });

function storedEvent(sessionId: string, seq: number): StoredEvent {
  return {
    sessionId,
    seq,
    type: 'agent.output',
    at: '2026-01-01T00:00:00.000Z',
    actor: 'tester',
    data: {},
    prevHash: 'p',
    hash: `h${seq}`,
  };
}

/** A store whose reads wait until the test lets them answer. */
function fakeStore() {
  const reads: { sessionId: string; range: EventRange; answer: () => void }[] = [];
  const failing = new Set<string>();
  const read = (sessionId: string, range: EventRange) =>
    new Promise<StoredEvent[]>((resolve, reject) => {
      reads.push({
        sessionId,
        range,
        answer: () => {
          if (failing.has(sessionId)) {
            reject(new Error('connection refused'));
            return;
          }
          const after = range.afterSeq ?? 0;
          const count = range.limit ?? 0;
          resolve(Array.from({ length: count }, (_, i) => storedEvent(sessionId, after + i + 1)));
        },
      });
    });
  return { reads, read, failing };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Answers reads as they come until `done` holds. */
async function answerAll(reads: { answer: () => void }[], done: () => boolean): Promise<void> {
  for (let round = 0; round < 1_000 && !done(); round++) {
    for (const read of reads.splice(0)) read.answer();
    await settle();
  }
}

describe('CommittedEventRelay', () => {
  it('skips its own announcements and anything that is not one', async () => {
    const { reads, read } = fakeStore();
    const delivered: string[] = [];
    const relay = new CommittedEventRelay('me', read, {
      onEvents: (events) => delivered.push(...events.map((e) => `${e.sessionId}#${e.seq}`)),
    });
    relay.announce(payload('me', 'ses_a', 1, 2));
    relay.announce('not json');
    relay.announce(JSON.stringify({ o: 'them', s: 'ses_a', f: 3, l: 2 }));
    relay.announce(JSON.stringify({ o: 'them', s: 'ses_a', f: 0, l: 1 }));
    relay.announce(JSON.stringify([1, 2]));
    await settle();
    expect(reads).toEqual([]);
    relay.announce(payload('them', 'ses_a', 3, 4));
    await answerAll(reads, () => delivered.length === 2);
    expect(delivered).toEqual(['ses_a#3', 'ses_a#4']);
  });

  it('reads every append of a statement that announced several sessions at once', async () => {
    const { reads, read } = fakeStore();
    const delivered: string[] = [];
    const relay = new CommittedEventRelay('me', read, {
      onEvents: (events) => delivered.push(...events.map((e) => `${e.sessionId}#${e.seq}`)),
    });
    relay.announce(JSON.stringify({ o: 'me', a: [['ses_a', 1, 1]] }));
    relay.announce(JSON.stringify({ o: 'them', a: 'ses_a' }));
    await settle();
    expect(reads).toEqual([]);
    // An entry that is not one is left out; the others stand.
    relay.announce(
      JSON.stringify({ o: 'them', a: [['ses_a', 2, 3], ['ses_b', 0, 1], 'x', ['ses_c', 5, 5]] }),
    );
    await answerAll(reads, () => delivered.length === 3);
    expect(delivered).toEqual(['ses_a#2', 'ses_a#3', 'ses_c#5']);
  });

  it('reads announcements that join as one range, and keeps the others apart', async () => {
    const { reads, read } = fakeStore();
    const delivered: number[] = [];
    const relay = new CommittedEventRelay('me', read, {
      onEvents: (events) => delivered.push(...events.map((e) => e.seq)),
    });
    relay.announce(payload('them', 'ses_a', 1, 1));
    await settle();
    // While seq 1 is being read: 2–3 and 4 join; 5–6 were this store's own; 7 stands apart.
    relay.announce(payload('them', 'ses_a', 2, 3));
    relay.announce(payload('other', 'ses_a', 4, 4));
    relay.announce(payload('me', 'ses_a', 5, 6));
    relay.announce(payload('them', 'ses_a', 7, 7));
    expect(reads).toHaveLength(1);
    reads.shift()?.answer();
    await settle();
    expect(reads.map((r) => r.range)).toEqual([{ afterSeq: 1, limit: 3 }]);
    await answerAll(reads, () => delivered.length === 5);
    expect(delivered).toEqual([1, 2, 3, 4, 7]);
  });

  it('reads a huge append in batches, in order', async () => {
    const { reads, read } = fakeStore();
    const delivered: number[] = [];
    const relay = new CommittedEventRelay('me', read, {
      onEvents: (events) => delivered.push(...events.map((e) => e.seq)),
    });
    relay.announce(payload('them', 'ses_a', 2, 2_600));
    const ranges: EventRange[] = [];
    for (let round = 0; round < 100 && delivered.length < 2_599; round++) {
      for (const pending of reads.splice(0)) {
        ranges.push(pending.range);
        pending.answer();
      }
      await settle();
    }
    expect(ranges).toEqual([
      { afterSeq: 1, limit: 1_000 },
      { afterSeq: 1_001, limit: 1_000 },
      { afterSeq: 2_001, limit: 599 },
    ]);
    expect(delivered).toEqual(Array.from({ length: 2_599 }, (_, i) => i + 2));
  });

  it('reports a failed read and goes on with the next session', async () => {
    const { reads, read, failing } = fakeStore();
    const delivered: string[] = [];
    const troubles: AasErrorType[] = [];
    const relay = new CommittedEventRelay('me', read, {
      onEvents: (events) => {
        delivered.push(...events.map((e) => `${e.sessionId}#${e.seq}`));
        throw new Error('a listener that throws');
      },
      onTrouble: (error) => troubles.push(error),
    });
    failing.add('ses_a');
    relay.announce(payload('them', 'ses_a', 1, 1));
    relay.announce(payload('them', 'ses_b', 1, 1));
    relay.announce(payload('them', 'ses_c', 1, 1));
    await answerAll(reads, () => delivered.length === 2);
    expect(delivered).toEqual(['ses_b#1', 'ses_c#1']);
    expect(troubles).toHaveLength(1);
    expect(troubles[0]).toBeInstanceOf(AasError);
    expect(troubles[0]?.code).toBe('STORE_UNAVAILABLE');
  });

  it('hands nothing on once closed, and waits for the read in flight', async () => {
    const { reads, read } = fakeStore();
    const delivered: number[] = [];
    const relay = new CommittedEventRelay('me', read, {
      onEvents: (events) => delivered.push(...events.map((e) => e.seq)),
    });
    relay.announce(payload('them', 'ses_a', 1, 1));
    relay.announce(payload('them', 'ses_b', 1, 1));
    await settle();
    let closed = false;
    const closing = relay.close().then(() => {
      closed = true;
    });
    await settle();
    expect(closed).toBe(false);
    for (const pending of reads.splice(0)) pending.answer();
    await closing;
    relay.announce(payload('them', 'ses_c', 1, 1));
    await settle();
    expect(reads).toEqual([]);
    expect(delivered).toEqual([]);
  });
});
