import { describe, expect, it } from 'vitest';
import { type ClassifyInput, classifyAttempt } from '../../src/drivers/classify-attempt.js';
import type { DriverResultRead } from '../../src/drivers/read-driver-result.js';
import { AasError } from '../../src/kernel/index.js';
import type { LaunchOutcome } from '../../src/sandbox/index.js';

const exited = (exitCode: number | null, extra: Partial<LaunchOutcome> = {}): LaunchOutcome => ({
  exitCode,
  signal: exitCode === null ? 'SIGSEGV' : null,
  timedOut: false,
  outputLimitExceeded: false,
  cancelled: false,
  stdoutBytes: 0,
  stderrBytes: 0,
  durationMs: 1,
  ...extra,
  limitHit: extra.limitHit ?? null,
});
const valid = (
  status: 'succeeded' | 'partial' | 'failed' | 'timed_out' | 'policy_blocked',
): DriverResultRead => ({
  ok: true,
  result: { status, summary: `said ${status}`, recommendedAction: 'promote' },
  ignoredKeys: [],
});
const invalid: DriverResultRead = {
  ok: false,
  problem: '/x/driver_result.json: field status invalid',
};

const classify = (
  launch: LaunchOutcome,
  resultRead: DriverResultRead | null,
  mode: ClassifyInput['mode'] = 'file',
) => classifyAttempt({ mode, launch, resultRead, timeoutMs: 1000, maxOutputBytes: 10 });

describe('classifyAttempt (file agents)', () => {
  it.each([
    ['exit 0 + succeeded', exited(0), valid('succeeded'), null],
    ['exit 0 + partial', exited(0), valid('partial'), null],
    ['exit 0 + failed', exited(0), valid('failed'), 'AGENT_FAILED'],
    ['exit 0 + timed_out', exited(0), valid('timed_out'), 'AGENT_FAILED'],
    ['exit 0 + policy_blocked', exited(0), valid('policy_blocked'), 'AGENT_FAILED'],
    ['exit 0 + invalid result', exited(0), invalid, 'DRIVER_RESULT_INVALID'],
    ['exit 3 + succeeded', exited(3), valid('succeeded'), 'AGENT_FAILED'],
    ['exit 3 + invalid result', exited(3), invalid, 'AGENT_FAILED'],
    ['killed by a signal + succeeded', exited(null), valid('succeeded'), 'AGENT_FAILED'],
    ['timed out', exited(null, { timedOut: true }), null, 'AGENT_TIMEOUT'],
    ['output flood', exited(null, { outputLimitExceeded: true }), null, 'AGENT_OUTPUT_LIMIT'],
    ['cancelled', exited(null, { cancelled: true }), null, 'CANCELLED'],
    ['spawn error', exited(null, { spawnError: 'spawn x ENOENT' }), null, 'AGENT_FAILED'],
  ] as const)('%s → %s', (_name, launch, read, code) => {
    const verdict = classify(launch, read);
    expect(verdict.code).toBe(code);
    expect(verdict.ok).toBe(code === null);
  });

  it('a failed exit never confirms a success claim, but keeps the result for feedback', () => {
    const verdict = classify(exited(3), valid('succeeded'));
    expect(verdict.detail).toBe(
      "the agent exited with code 3; its result claims 'succeeded', which a failed exit never confirms",
    );
    expect(verdict.result?.status).toBe('succeeded');
  });
});

describe('classifyAttempt (exit-code agents)', () => {
  it('synthesises the result from the exit code', () => {
    expect(classify(exited(0), null, 'exit-code')).toMatchObject({
      ok: true,
      code: null,
      result: { status: 'succeeded' },
    });
    expect(classify(exited(7), null, 'exit-code')).toMatchObject({
      ok: false,
      code: 'AGENT_FAILED',
      detail: 'the command exited with code 7',
      result: { status: 'failed', recommendedAction: 'retry' },
    });
    expect(classify(exited(null), null, 'exit-code').detail).toBe(
      'the command was killed by signal SIGSEGV',
    );
  });
});

describe('classifyAttempt: a stopped attempt', () => {
  it('is CANCELLED unless its stopper said it was interrupted', () => {
    const stopped = exited(null, { cancelled: true });
    const withReason = (stopReason: unknown) =>
      classifyAttempt({
        mode: 'file',
        launch: stopped,
        resultRead: null,
        timeoutMs: 1000,
        maxOutputBytes: 10,
        stopReason,
      });
    expect(withReason(undefined)).toMatchObject({ ok: false, code: 'CANCELLED' });
    expect(withReason(new AasError('CANCELLED', 'the run was cancelled'))).toMatchObject({
      code: 'CANCELLED',
    });
    expect(withReason(new AasError('INTERRUPTED', "the run's lease was lost"))).toMatchObject({
      ok: false,
      code: 'INTERRUPTED',
      detail: "the attempt was stopped: the run's lease was lost",
    });
  });
});
