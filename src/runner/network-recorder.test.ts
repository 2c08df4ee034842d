import { describe, expect, it } from 'vitest';
import { mergePolicy } from '../policy/index.js';
import type { TypedEvent } from '../sessions/index.js';
import { NetworkRecorder, sandboxNetworkFor } from './network-recorder.js';

const decision = (kind: 'allowed' | 'refused', host: string) => ({
  kind,
  method: 'CONNECT',
  host,
  port: 443,
  reason: kind === 'refused' ? 'not-in-allow-list: no' : null,
  atMs: 0,
});

describe('NetworkRecorder', () => {
  it('records each decision, then only counts past its cap, and summarises', () => {
    const events: TypedEvent[] = [];
    const recorder = new NetworkRecorder('run_x', 1, 'agent', (event) => events.push(event));
    recorder.onDecision(decision('allowed', 'registry.npmjs.org'));
    for (let i = 0; i < 300; i += 1) recorder.onDecision(decision('refused', `h${i}.example`));
    expect(events).toHaveLength(200);
    expect(events[0]).toMatchObject({
      type: 'network.allowed',
      data: { host: 'registry.npmjs.org', phase: 'agent' },
    });
    expect(events[1]?.type).toBe('network.refused');
    expect(recorder.summary()).toMatchObject({
      type: 'network.summary',
      data: { allowed: 1, refused: 300, unrecorded: 101 },
    });
  });

  it('has no summary when nothing connected', () => {
    expect(new NetworkRecorder('run_x', 1, 'validators', () => undefined).summary()).toBeNull();
  });
});

describe('sandboxNetworkFor', () => {
  const recorder = new NetworkRecorder('run_x', 1, 'agent', () => undefined);
  it('maps disabled and full directly, and an allow-list to the policy host rule', () => {
    expect(sandboxNetworkFor(mergePolicy([]), recorder)).toEqual({ mode: 'disabled' });
    const full = mergePolicy([{ name: 'server', source: 'x', layer: { network: 'full' } }]);
    expect(sandboxNetworkFor(full, recorder)).toEqual({ mode: 'full' });
    const listed = mergePolicy([
      { name: 'server', source: 'x', layer: { network: { allow: ['api.example.com:443'] } } },
    ]);
    const network = sandboxNetworkFor(listed, recorder);
    if (network.mode !== 'allowlist') throw new Error('expected an allow-list');
    expect(network.decide('api.example.com', 443)).toBe(true);
    expect(network.decide('api.example.com', 80)).toBe(false);
    expect(network.decide('evil.example.com', 443)).toBe(false);
  });
});
