import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AgentManifest,
  builtinManifests,
  type MockScript,
  runDriver,
} from '../../src/drivers/index.js';
import {
  type AttemptFixture,
  type FixtureOverrides,
  makeAttemptFixture,
} from './attempt-fixture.js';

const mock = ((): AgentManifest => {
  const found = builtinManifests({ nodePath: process.execPath }).find((m) => m.id === 'mock');
  if (found === undefined) throw new Error('mock manifest missing');
  return found;
})();

describe('runDriver with the mock agent', () => {
  let fx: AttemptFixture;
  beforeEach(() => {
    fx = makeAttemptFixture();
  });
  afterEach(() => fx.dispose());

  const run = (mockScript: MockScript, overrides: FixtureOverrides = {}) =>
    runDriver(
      fx.options(mock, { ...overrides, job: { input: { mock: mockScript }, ...overrides.job } }),
    );

  it('applies edits in the workspace, streams events and accepts a valid result', async () => {
    writeFileSync(join(fx.workspace, 'old.txt'), 'old');
    writeFileSync(join(fx.workspace, 'gone.txt'), 'bye');
    const outcome = await run({
      edits: [
        { path: 'src/hello.txt', write: 'hello\n' },
        { path: 'src/hello.txt', append: 'world\n' },
        { path: 'bin/blob', writeBase64: Buffer.from([0, 1, 2, 255]).toString('base64') },
        { path: 'bin/tool.sh', write: '#!/bin/sh\n', chmod: '755' },
        { path: 'link', symlinkTo: 'src/hello.txt' },
        { path: 'old.txt', renameTo: 'new/renamed.txt' },
        { path: 'gone.txt', delete: true },
      ],
      events: [{ type: 'custom.step', data: { n: 1 } }],
    });

    expect(outcome.ok).toBe(true);
    expect(outcome.code).toBeNull();
    expect(outcome.result?.status).toBe('succeeded');
    expect(outcome.result?.recommendedAction).toBe('promote');
    expect(outcome.launch.exitCode).toBe(0);
    expect(outcome.rejectedEvents).toBe(0);

    expect(readFileSync(join(fx.workspace, 'src/hello.txt'), 'utf8')).toBe('hello\nworld\n');
    expect([...readFileSync(join(fx.workspace, 'bin/blob'))]).toEqual([0, 1, 2, 255]);
    expect(statSync(join(fx.workspace, 'bin/tool.sh')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(fx.workspace, 'link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(fx.workspace, 'link'))).toBe('src/hello.txt');
    expect(readFileSync(join(fx.workspace, 'new/renamed.txt'), 'utf8')).toBe('old');
    expect(existsSync(join(fx.workspace, 'old.txt'))).toBe(false);
    expect(existsSync(join(fx.workspace, 'gone.txt'))).toBe(false);

    const types = fx.events.map((event) => event.type);
    expect(types[0]).toBe('mock.started');
    expect(types.filter((type) => type === 'mock.edited')).toHaveLength(7);
    expect(types).toContain('custom.step');
    expect(types.at(-1)).toBe('mock.finished');
    expect(fx.events.find((event) => event.type === 'custom.step')?.data).toEqual({ n: 1 });

    // The attempt directory follows the AEP layout.
    const job = JSON.parse(readFileSync(join(fx.attemptDir, 'aep', 'job.json'), 'utf8')) as {
      protocol: string;
    };
    expect(job.protocol).toBe('aep/v1');
    expect(existsSync(join(fx.attemptDir, 'aep', 'driver_result.json'))).toBe(true);
    expect(existsSync(join(fx.attemptDir, 'aep', 'events.ndjson'))).toBe(true);
    expect(outcome.stdoutPath).toBe(join(fx.attemptDir, 'stdout.log'));
    expect(outcome.stderrPath).toBe(join(fx.attemptDir, 'stderr.log'));
  });

  it('merges the scripted result over the default', async () => {
    const outcome = await run({
      result: { status: 'partial', summary: 'half done', metrics: { tokensIn: 10, costUsd: 0.5 } },
    });
    expect(outcome.ok).toBe(true);
    expect(outcome.result).toMatchObject({
      status: 'partial',
      summary: 'half done',
      metrics: { tokensIn: 10 },
    });
  });

  it('picks the step for the attempt number, then the last one', async () => {
    const script: MockScript = {
      attempts: [
        { edits: [{ path: 'a.txt', write: '1' }] },
        { edits: [{ path: 'b.txt', write: '2' }] },
      ],
    };
    await run(script, { job: { attempt: 2 } });
    expect(existsSync(join(fx.workspace, 'a.txt'))).toBe(false);
    expect(readFileSync(join(fx.workspace, 'b.txt'), 'utf8')).toBe('2');

    await run(script, { job: { attempt: 5 } });
    expect(existsSync(join(fx.workspace, 'a.txt'))).toBe(false);
  });

  it('hands the previous attempt’s gate feedback to the agent', async () => {
    const feedback = [{ gate: 'validator:test', detail: 'expected 2, got 3' }];
    const outcome = await run(
      { echoFeedbackTo: 'feedback.json' },
      { job: { attempt: 2, feedback } },
    );
    expect(outcome.ok).toBe(true);
    expect(JSON.parse(readFileSync(join(fx.workspace, 'feedback.json'), 'utf8'))).toEqual(feedback);
  });

  it('a reported failure with exit 0 is AGENT_FAILED and keeps the result', async () => {
    const outcome = await run({
      result: { status: 'failed', summary: 'could not do it', error: 'boom' },
    });
    expect(outcome.ok).toBe(false);
    expect(outcome.code).toBe('AGENT_FAILED');
    expect(outcome.detail).toMatch(/'failed': boom/);
    expect(outcome.result?.status).toBe('failed');
  });

  it('garbage-result → DRIVER_RESULT_INVALID naming the file', async () => {
    const outcome = await run({ misbehave: 'garbage-result' });
    expect(outcome.code).toBe('DRIVER_RESULT_INVALID');
    expect(outcome.ok).toBe(false);
    expect(outcome.detail).toContain(join(fx.attemptDir, 'aep', 'driver_result.json'));
    expect(outcome.detail).toMatch(/not valid JSON/);
    expect(outcome.result).toBeNull();
  });

  it('a result with a wrong field → DRIVER_RESULT_INVALID naming the field', async () => {
    const outcome = await run({ result: { status: 'done' as 'succeeded' } });
    expect(outcome.code).toBe('DRIVER_RESULT_INVALID');
    expect(outcome.detail).toContain('driver_result.json');
    expect(outcome.detail).toMatch(/field 'status'/);
  });

  it('no-result → DRIVER_RESULT_INVALID', async () => {
    const outcome = await run({ misbehave: 'no-result' });
    expect(outcome.code).toBe('DRIVER_RESULT_INVALID');
    expect(outcome.detail).toMatch(/wrote no result file/);
  });

  it('never judges a stale result left in the attempt directory', async () => {
    mkdirSync(join(fx.attemptDir, 'aep'), { recursive: true });
    writeFileSync(
      join(fx.attemptDir, 'aep', 'driver_result.json'),
      JSON.stringify({ status: 'succeeded', summary: 'stale' }),
    );
    const outcome = await run({ misbehave: 'no-result' });
    expect(outcome.code).toBe('DRIVER_RESULT_INVALID');
  });

  it('exit-nonzero with a "succeeded" result → AGENT_FAILED, never accepted', async () => {
    const outcome = await run({ misbehave: 'exit-nonzero' });
    expect(outcome.ok).toBe(false);
    expect(outcome.code).toBe('AGENT_FAILED');
    expect(outcome.launch.exitCode).toBe(3);
    expect(outcome.detail).toMatch(/exited with code 3.*'succeeded'/);
  });

  it('flood-output → AGENT_OUTPUT_LIMIT with output cut at the cap', async () => {
    const outcome = await run({ misbehave: 'flood-output' }, { maxOutputBytes: 200_000 });
    expect(outcome.code).toBe('AGENT_OUTPUT_LIMIT');
    expect(outcome.launch.outputLimitExceeded).toBe(true);
    expect(outcome.launch.stdoutBytes + outcome.launch.stderrBytes).toBe(200_000);
    expect(outcome.result).toBeNull();
  });

  it('hang → AGENT_TIMEOUT', async () => {
    const outcome = await run({ misbehave: 'hang' }, { timeoutMs: 1500, killGraceMs: 500 });
    expect(outcome.code).toBe('AGENT_TIMEOUT');
    expect(outcome.launch.timedOut).toBe(true);
    expect(outcome.detail).toMatch(/1500 ms/);
  });

  it('flood-events: bounded delivery, rejects counted, one summary event, run still judged', async () => {
    const outcome = await run({ misbehave: 'flood-events' }, { eventLimits: { maxEvents: 200 } });
    expect(outcome.ok).toBe(true);
    const driverEvents = fx.events.filter((event) => !event.type.startsWith('aep.'));
    expect(driverEvents).toHaveLength(200);
    expect(outcome.rejectedEvents).toBeGreaterThan(2000);
    const summaries = fx.events.filter((event) => event.type === 'aep.events.rejected');
    expect(summaries).toHaveLength(1);
    const data = summaries[0]?.data as { count: number; reasons: Record<string, number> };
    expect(data.count).toBe(outcome.rejectedEvents);
    expect(Object.keys(data.reasons).sort()).toEqual([
      'invalid',
      'malformed',
      'over-limit',
      'oversized',
    ]);
  });

  it('escape-workspace: recorded; the plain backend cannot stop it', async () => {
    const fixtureOptions = fx.options(mock);
    const outcome = await run({ misbehave: 'escape-workspace' });
    expect(outcome.ok).toBe(true);
    const escaped = existsSync(join(fx.root, 'outside.txt'));
    // An isolating backend must turn this into `false`; the plain one does not isolate.
    expect(escaped).toBe(!fixtureOptions.sandbox.isolating);
  });

  it('reports unknown result keys instead of rejecting the result', async () => {
    const outcome = await run({
      result: { extra: 1, metrics: { steps: 3 } } as unknown as MockScript['result'],
    });
    expect(outcome.ok).toBe(true);
    expect(outcome.ignoredResultKeys).toEqual(['extra', 'metrics.steps']);
    expect(fx.events.some((event) => event.type === 'aep.result.ignored_keys')).toBe(true);
  });

  it('a cancel signal kills the agent → CANCELLED', async () => {
    const controller = new AbortController();
    const running = run(
      { misbehave: 'hang' },
      {
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'mock.hanging') controller.abort();
        },
      },
    );
    const outcome = await running;
    expect(outcome.code).toBe('CANCELLED');
    expect(outcome.launch.cancelled).toBe(true);
  });
});
