import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../store/index.js';
import { replaySession } from './replay-session.js';

let seq = 0;
const event = (type: string, data: Record<string, unknown>): StoredEvent => {
  seq += 1;
  return {
    sessionId: 'ses_1',
    seq,
    type,
    at: '2026-01-01T00:00:00.000Z',
    actor: 'runner:t',
    data,
    prevHash: '',
    hash: '',
  };
};

describe('replaySession', () => {
  it('rebuilds attempts, gates and the decision from events alone', () => {
    const projection = replaySession([
      event('session.created', { task: 'do it' }),
      event('run.started', { runId: 'run_1' }),
      event('run.base.resolved', { baseCommit: 'a'.repeat(40) }),
      event('sandbox.degraded', { reason: 'no isolation' }),
      event('run.attempt.started', { attempt: 1, agentId: 'mock' }),
      event('agent.finished', { durationMs: 12 }),
      event('gate.failed', {
        gate: 'validator:tests',
        code: 'GATE_FAILED',
        detail: 'exit 1',
        durationMs: 40,
      }),
      event('run.attempt.finished', { status: 'retryable', code: 'GATE_FAILED' }),
      event('run.attempt.started', { attempt: 2, agentId: 'mock' }),
      event('gate.passed', {
        gate: 'validator:tests',
        code: 'GATES_PASSED',
        detail: 'exit 0',
        durationMs: 41,
      }),
      event('run.attempt.finished', { status: 'success', code: 'GATES_PASSED' }),
      event('run.completed', {
        status: 'ready_for_promotion',
        reasonCode: 'GATES_PASSED',
        detail: 'ok',
        patchSha256: 'b'.repeat(64),
      }),
    ]);
    expect(projection).toMatchObject({
      task: 'do it',
      status: 'ready_for_promotion',
      reasonCode: 'GATES_PASSED',
      baseCommit: 'a'.repeat(40),
      patchSha256: 'b'.repeat(64),
      degraded: ['no isolation'],
      eventCount: 12,
    });
    expect(
      projection.attempts.map((a) => [a.attempt, a.status, a.gates.map((g) => g.passed)]),
    ).toEqual([
      [1, 'retryable', [false]],
      [2, 'success', [true]],
    ]);
  });

  it('keeps why the last promotion stopped half-way, until a later try records anything', () => {
    const failed = event('promotion.failed', {
      runId: 'run_1',
      step: 'committed',
      code: 'PROVIDER_ERROR',
      detail: 'the remote refused the push',
    });
    expect(replaySession([failed]).promotionFailure).toEqual({
      step: 'committed',
      code: 'PROVIDER_ERROR',
      detail: 'the remote refused the push',
    });
    const retried = event('promotion.requested', { runId: 'run_1', resumed: true });
    expect(replaySession([failed, retried]).promotionFailure).toBeNull();
    const done = event('promotion.completed', { runId: 'run_1', mode: 'branch' });
    expect(replaySession([failed, done]).promotionFailure).toBeNull();
  });
});
