import { describe, expect, it } from 'vitest';
import { EventBus } from '../sessions/index.js';
import type { Store, StoredEvent } from '../store/index.js';
import { ApiMetrics } from './api-metrics.js';

function stored(type: string, seq: number, data: unknown = {}): StoredEvent {
  return {
    sessionId: 'ses_a',
    seq,
    type,
    at: '2026-01-01T00:00:00.000Z',
    actor: 'tester',
    data,
    prevHash: 'p',
    hash: `h${seq}`,
  };
}

const counter = (text: string, name: string) =>
  Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');

describe('ApiMetrics', () => {
  it("counts this process's events, not those relayed from other replicas", async () => {
    const store = { countRunsByStatus: async () => ({}) } as Pick<
      Store,
      'countRunsByStatus'
    > as Store;
    const bus = new EventBus();
    const metrics = new ApiMetrics(store, bus);
    const usage = {
      provider: 'anthropic',
      model: 'claude',
      status: 200,
      inputTokens: 10,
      outputTokens: 5,
      cachedInputTokens: 0,
      costUsd: 0.25,
    };
    // Each replica counts what it committed; summed over replicas, every event counts once.
    bus.publish([stored('gate.failed', 1), stored('agent.usage', 2, usage)]);
    bus.publish([stored('gate.failed', 3), stored('agent.usage', 4, usage)], 'replica');
    const { text } = await metrics.scrape();
    expect(counter(text, 'aas_gate_verdicts_total\\{verdict="failed"\\}')).toBe(1);
    expect(counter(text, 'aas_model_cost_usd_total\\{provider="anthropic"\\}')).toBe(0.25);
    metrics.close();
  });
});
