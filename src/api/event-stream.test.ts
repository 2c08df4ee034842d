import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../store/index.js';
import { sseFrame } from './event-stream.js';

const event: StoredEvent = {
  sessionId: 'ses_000000000000000000000001',
  seq: 7,
  type: 'agent.event',
  at: '2026-03-01T00:00:00.000Z',
  actor: 'agent',
  data: { message: 'line one\nline two\r\ndata: forged\n\nid: 99' },
  prevHash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
};

describe('SSE frames', () => {
  it('carry the seq as id, the type as event and the whole event as one data line', () => {
    const frame = sseFrame(event);
    expect(frame.endsWith('\n\n')).toBe(true);
    const lines = frame.slice(0, -2).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('id: 7');
    expect(lines[1]).toBe('event: agent.event');
    expect(JSON.parse(lines[2]?.slice('data: '.length) ?? '')).toEqual(event);
  });

  it('never let a recorded type or payload inject a field', () => {
    const frame = sseFrame({ ...event, type: 'x\nid: 1000\r\ndata: forged' });
    const lines = frame.slice(0, -2).split(/\r\n|\r|\n/);
    expect(lines).toHaveLength(3);
    expect(lines.filter((line) => line.startsWith('id:'))).toEqual(['id: 7']);
  });
});
