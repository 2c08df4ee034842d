import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeEventHash, GENESIS_HASH } from '../kernel/index.js';
import { chainEvents } from './chain-events.js';

const event = (data: unknown) => ({ type: 't', at: '2026-01-01T00:00:00.000Z', actor: 'a', data });

describe('chainEvents', () => {
  it('numbers events from firstSeq and links each to the previous hash', () => {
    const { stored, rows } = chainEvents('ses_1', 5, 'f'.repeat(64), [
      event(1),
      event(2),
      event(3),
    ]);
    expect(stored.map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(stored.map((e) => e.prevHash)).toEqual([
      'f'.repeat(64),
      stored[0]?.hash,
      stored[1]?.hash,
    ]);
    for (const e of stored) expect(computeEventHash(e)).toBe(e.hash);
    expect(rows.map((r) => [r.session_id, r.seq, r.prev_hash, r.hash, r.data])).toEqual(
      stored.map((e) => ['ses_1', e.seq, e.prevHash, e.hash, JSON.stringify(e.data)]),
    );
  });

  it('hashes and returns data in the form it will be read back in', () => {
    const { stored, rows } = chainEvents('ses_1', 1, GENESIS_HASH, [
      event({ when: new Date(0), gone: undefined, keep: [undefined, 1] }),
      event(undefined),
    ]);
    expect(stored[0]?.data).toEqual({ when: '1970-01-01T00:00:00.000Z', keep: [null, 1] });
    expect(stored[1]?.data).toBeNull();
    expect(rows[1]?.data).toBe('null');
    for (const row of rows) {
      const readBack = {
        sessionId: row.session_id,
        seq: row.seq,
        type: row.type,
        at: row.at,
        actor: row.actor,
        data: JSON.parse(row.data),
        prevHash: row.prev_hash,
      };
      expect(computeEventHash(readBack)).toBe(row.hash);
    }
  });

  it('produces a chain that verifies for any JSON payloads', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 20 }), (payloads) => {
        const { stored } = chainEvents('ses_x', 1, GENESIS_HASH, payloads.map(event));
        let prevHash = GENESIS_HASH;
        for (const [i, e] of stored.entries()) {
          expect(e.seq).toBe(i + 1);
          expect(e.prevHash).toBe(prevHash);
          expect(computeEventHash(e)).toBe(e.hash);
          prevHash = e.hash;
        }
      }),
      { numRuns: 100 },
    );
  });
});
