import { describe, expect, it } from 'vitest';
import { computeEventHash, GENESIS_HASH } from './hash.js';

describe('computeEventHash', () => {
  const event = {
    sessionId: 'ses_1',
    seq: 1,
    type: 'a.b',
    at: '2026-01-01T00:00:00.000Z',
    actor: 'user:x',
    data: { k: 1 },
    prevHash: GENESIS_HASH,
  };

  it('changes when any covered field changes', () => {
    const base = computeEventHash(event);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    for (const changed of [
      { ...event, seq: 2 },
      { ...event, type: 'a.c' },
      { ...event, at: '2026-01-01T00:00:00.001Z' },
      { ...event, actor: 'user:y' },
      { ...event, data: { k: 2 } },
      { ...event, prevHash: '1'.repeat(64) },
      { ...event, sessionId: 'ses_2' },
    ]) {
      expect(computeEventHash(changed)).not.toBe(base);
    }
  });

  it('does not depend on payload key order', () => {
    expect(computeEventHash({ ...event, data: { a: 1, b: 2 } })).toBe(
      computeEventHash({ ...event, data: { b: 2, a: 1 } }),
    );
  });
});
