import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../sessions/index.js';
import { failedModelCalls } from './commands/sessions-command.js';
import { progressPrinter } from './progress-printer.js';

let seq = 0;
function usage(status: number, refused: string | null = null): StoredEvent {
  seq += 1;
  return {
    sessionId: 'ses_000000000000000000000001',
    seq,
    type: 'agent.usage',
    at: '2026-01-01T00:00:00.000Z',
    actor: 'agent',
    data: { runId: 'run_1', attempt: 1, provider: 'anthropic', model: 'claude-x', status, refused },
    prevHash: '',
    hash: '',
  } as unknown as StoredEvent;
}

describe('failed model calls', () => {
  it('are said as they happen, the first three, then once that more are not shown', () => {
    const stream = new PassThrough();
    const print = progressPrinter(stream);
    print(usage(200));
    for (let call = 0; call < 6; call += 1) print(usage(401));
    print(usage(429, 'the run spent its model budget'));
    const lines = String(stream.read()).trimEnd().split('\n');
    expect(lines).toEqual([
      '  model     anthropic claude-x answered HTTP 401',
      '  model     anthropic claude-x answered HTTP 401',
      '  model     anthropic claude-x answered HTTP 401',
      '  model     further failed model calls are not shown here (aas sessions show counts them)',
    ]);
  });

  it('are counted by status for aas sessions show', () => {
    expect(failedModelCalls([usage(200)])).toBeNull();
    expect(failedModelCalls([usage(401), usage(200), usage(500), usage(401)])).toBe(
      '3 model calls failed: HTTP 401 ×2, HTTP 500 ×1',
    );
  });
});
