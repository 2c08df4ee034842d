import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeEventHash, GENESIS_HASH } from '../kernel/index.js';
import type { StoredEvent } from '../store/index.js';
import { verifyChain } from './verify-chain.js';

function chain(length: number, sessionId = 'ses_1'): StoredEvent[] {
  const events: StoredEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= length; seq += 1) {
    const fields = {
      sessionId,
      seq,
      type: 'test.event',
      at: `2026-01-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`,
      actor: 'user:t',
      data: { n: seq },
      prevHash,
    };
    const hash = computeEventHash(fields);
    events.push({ ...fields, hash });
    prevHash = hash;
  }
  return events;
}

const head = (events: StoredEvent[]) => ({
  id: 'ses_1',
  lastSeq: events.length,
  lastHash: events.at(-1)?.hash ?? GENESIS_HASH,
});

describe('verifyChain', () => {
  it('accepts an intact chain, including the empty one', () => {
    const events = chain(5);
    expect(verifyChain(head(events), events)).toMatchObject({ ok: true, eventCount: 5 });
    expect(verifyChain({ id: 'ses_1', lastSeq: 0, lastHash: GENESIS_HASH }, [])).toMatchObject({
      ok: true,
    });
  });

  it('names the seq of an edit, a removal, a reordering and a truncation', () => {
    const events = chain(6);
    const edited = events.map((e) => (e.seq === 3 ? { ...e, data: { n: 99 } } : e));
    expect(verifyChain(head(events), edited).firstProblem).toMatchObject({
      seq: 3,
      kind: 'hash-mismatch',
    });
    const removed = events.filter((e) => e.seq !== 4);
    expect(verifyChain(head(events), removed).firstProblem).toMatchObject({ seq: 4, kind: 'gap' });
    const swapped = [events[0], events[2], events[1], ...events.slice(3)].filter(
      (e): e is StoredEvent => e !== undefined,
    );
    expect(verifyChain(head(events), swapped).firstProblem).toMatchObject({ seq: 2, kind: 'gap' });
    const truncated = events.slice(0, 5);
    expect(verifyChain(head(events), truncated).firstProblem).toMatchObject({
      seq: 6,
      kind: 'head-mismatch',
    });
  });

  it('catches a rewritten tail whose hashes were recomputed, through the recorded head', () => {
    const events = chain(4);
    const last = events[3];
    if (!last) throw new Error('fixture');
    const forged = { ...last, data: { n: -1 } };
    const rewritten = [...events.slice(0, 3), { ...forged, hash: computeEventHash(forged) }];
    expect(verifyChain(head(events), rewritten).firstProblem).toMatchObject({
      seq: 4,
      kind: 'head-mismatch',
    });
  });

  it('detects any single-field mutation of any event', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.nat(),
        fc.constantFrom('type', 'at', 'actor', 'data', 'prevHash', 'hash'),
        (length, pick, field) => {
          const events = chain(length);
          const index = pick % length;
          const mutated = events.map((event, i) => {
            if (i !== index) return event;
            switch (field) {
              case 'data':
                return { ...event, data: { n: 'changed' } };
              case 'prevHash':
              case 'hash':
                return { ...event, [field]: 'f'.repeat(64) };
              default:
                return { ...event, [field]: `${String(event[field])}x` };
            }
          });
          const result = verifyChain(head(events), mutated);
          expect(result.ok).toBe(false);
          expect(result.firstProblem?.seq).toBeLessThanOrEqual(index + 2);
        },
      ),
      { numRuns: 300 },
    );
  });
});
