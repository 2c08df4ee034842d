import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/kernel/index.js';
import { executeRun, parseJobSpec, submitRun } from '../../src/runner/index.js';
import { type ScriptedUpstream, startScriptedUpstream } from '../gateway/scripted-upstream.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * A budget holds for the whole run (and session), not for one attempt: a retried attempt starts
 * with what the earlier ones left, so the provider sees nothing past the cap however many
 * attempts the job allows. Each call of the scripted provider costs $0.001119 and reports 150
 * input tokens (30 of them cached) and 50 output tokens.
 */

const REAL_KEY = 'sk-ant-real-credential-0123456789abcdef';
const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** `calls` Messages API calls with curl; the outcome of each is kept in codes.txt. */
function curlCalls(calls: number): string {
  return [
    `i=0; while [ $i -lt ${calls} ]; do`,
    '  i=$((i+1))',
    '  curl -sS -m 10 -o /dev/null -w "%{http_code}\\n" -H "x-api-key: $ANTHROPIC_API_KEY"' +
      ' -H "anthropic-version: 2023-06-01" -H "content-type: application/json"' +
      ` -d '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'` +
      ' "$ANTHROPIC_BASE_URL/v1/messages" >> codes.txt',
    'done',
  ].join('\n');
}

/** Attempt 1 makes two calls and fails (so the run retries); later attempts make three. */
const SPEND_THEN_FAIL = [
  `if grep -q '"attempt": 1,' "$AEP_JOB_SPEC"; then`,
  curlCalls(2),
  '  exit 1',
  'fi',
  curlCalls(3),
].join('\n');

async function setup(env: Record<string, string> = {}): Promise<{
  runtime: Runtime;
  upstream: ScriptedUpstream;
  repo: string;
}> {
  const upstream = await startScriptedUpstream();
  const home = makeTempDir('aas-budget-home-');
  const repo = createTempRepo({ 'README.md': '# demo\n' });
  mkdirSync(join(home, 'agents'), { recursive: true });
  writeFileSync(
    join(home, 'agents', 'curl-model.json'),
    JSON.stringify({
      id: 'curl-model',
      entrypoint: '/bin/sh',
      args: ['-c', '{{input.command}}'],
      modelGateway: ['anthropic'],
      result: 'exit-code',
    }),
  );
  const runtime = await createRuntime(
    parseConfig({
      env: {
        AAS_HOME: home,
        AAS_ANTHROPIC_API_KEY: REAL_KEY,
        AAS_ANTHROPIC_BASE_URL: upstream.origin,
        ...env,
      },
      cwd: home,
    }),
    { hostEnv: {}, nodePath: process.execPath, log: silentLogger, recover: false },
  );
  cleanup.push(
    () => upstream.close(),
    () => removeDir(home),
    () => removeDir(repo),
    () => runtime.close(),
  );
  return { runtime, upstream, repo };
}

const forwarded = (upstream: ScriptedUpstream) =>
  upstream.requests.filter((request) => request.url === '/v1/messages').length;

interface BudgetCase {
  readonly scope: 'run' | 'session';
  readonly env: Record<string, string>;
  readonly limits: Record<string, number>;
  readonly detail: RegExp;
}

describe('model budgets across attempts', () => {
  it.each<BudgetCase>([
    {
      scope: 'session',
      env: { AAS_SESSION_MAX_COST_USD: '0.003' },
      limits: {},
      detail:
        /^session budget \(AAS_SESSION_MAX_COST_USD\): spent \$0\.003357 of the \$0\.003 cost limit; the agent was stopped$/,
    },
    {
      scope: 'run',
      env: {},
      limits: { maxCostUsd: 0.003 },
      detail:
        /^run budget \(limits\.maxCostUsd\): spent \$0\.003357 of the \$0\.003 cost limit; the agent was stopped$/,
    },
    {
      scope: 'run',
      env: {},
      limits: { maxOutputTokens: 120 },
      detail:
        /^run budget \(limits\.maxOutputTokens\): spent 150 output tokens of the 120-token output limit; the agent was stopped$/,
    },
  ])('a retried attempt gets only what the first left ($scope, $limits)', async (budget) => {
    const { runtime, upstream, repo } = await setup(budget.env);
    const deps = runtime.runnerDeps();
    const job = parseJobSpec({
      task: 'spend across attempts',
      repo,
      agent: 'curl-model',
      agentInput: { command: SPEND_THEN_FAIL },
      retries: 3,
      policy: { limits: budget.limits },
    });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const outcome = await executeRun(deps, submitted.runId);
    expect({ status: outcome.status, code: outcome.reasonCode }).toEqual({
      status: 'failed',
      code: 'BUDGET_EXCEEDED',
    });
    expect(outcome.detail).toMatch(budget.detail);
    // Two calls in attempt 1, then one in attempt 2 crossed the cap; none reached it after.
    // Per attempt, attempt 2 would have made three calls (and attempts 3 and 4 more).
    expect(forwarded(upstream)).toBe(3);
    expect(outcome.attempts).toBe(2);

    const events = await runtime.store.readEvents(submitted.sessionId);
    const exceeded = events.filter((event) => event.type === 'budget.exceeded');
    expect(exceeded).toHaveLength(1);
    // The agent's own end says why it was stopped, not "cancelled".
    const finished = events.filter((event) => event.type === 'agent.finished').at(-1);
    expect(finished?.data).toMatchObject({ attempt: 2, code: 'BUDGET_EXCEEDED' });
    expect(String((finished?.data as { detail?: string } | undefined)?.detail)).toMatch(
      budget.detail,
    );
    expect(exceeded[0]?.data).toMatchObject({
      attempt: 2,
      scope: budget.scope,
      stage: 'during_attempt',
    });
    // The agent is stopped at once; a call it got out before that was refused and spent nothing.
    const usage = events.filter((event) => event.type === 'agent.usage');
    const refusals = usage.map((event) => (event.data as { refused: unknown }).refused);
    expect(refusals.filter((refused) => refused === null)).toHaveLength(3);
    expect(refusals.filter((refused) => refused !== null && refused !== 'budget')).toEqual([]);
    expect(await runtime.store.modelSpend({ runId: submitted.runId })).toMatchObject({
      calls: 3,
      inputTokens: 450,
      outputTokens: 150,
      cachedInputTokens: 90,
    });
  });

  it('a run stops when a run of the same repository running beside it spends the day', async () => {
    const { runtime, upstream, repo } = await setup({ AAS_REPO_DAILY_MAX_COST_USD: '0.004' });
    const deps = runtime.runnerDeps();
    // Three calls of $0.001119 two seconds apart: alone, all three fit the day's $0.004, and
    // the gateway, given $0.004 at the start, would forward every one of them.
    const paced = [curlCalls(1), 'sleep 2', curlCalls(1), 'sleep 2', curlCalls(1)].join('\n');
    const job = parseJobSpec({
      task: 'paced',
      repo,
      agent: 'curl-model',
      agentInput: { command: paced },
    });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const running = executeRun(deps, submitted.runId);

    // After the first call, another run of the repository spends $0.0025 of the day.
    const deadline = Date.now() + 20_000;
    while (forwarded(upstream) < 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(forwarded(upstream)).toBe(1);
    const other = await submitRun(deps, { ...job, task: 'beside' }, 'bob');
    await runtime.store.appendEvents(other.sessionId, [
      {
        type: 'agent.usage',
        at: runtime.clock.nowIso(),
        actor: 'runner:elsewhere',
        data: {
          runId: other.runId,
          attempt: 1,
          provider: 'openai',
          api: 'responses',
          model: 'gpt-5',
          status: 200,
          stream: false,
          inputTokens: 1_000,
          outputTokens: 100,
          cachedInputTokens: 0,
          costUsd: 0.0025,
          latencyMs: 900,
          refused: null,
        },
      },
    ]);

    // The re-read after the second call (its own usage flushed first) sums both calls and the
    // other run's $0.0025, $0.004738, and stops the agent before the third. The re-read after
    // the first call may or may not see the other run's spend yet; either way it is $0.003619
    // at most, under the limit.
    const outcome = await running;
    expect(outcome.reasonCode).toBe('BUDGET_EXCEEDED');
    expect(outcome.detail).toMatch(
      /^repository-day budget \(AAS_REPO_DAILY_MAX_COST_USD, .* UTC\): spent \$0\.004738 of the \$0\.004 cost limit; the agent was stopped$/,
    );
    expect(forwarded(upstream)).toBe(2);
  });

  it('an agent that calls no provider is not held back by a spent budget', async () => {
    const { runtime, repo } = await setup({ AAS_SESSION_MAX_COST_USD: '0' });
    const deps = runtime.runnerDeps();
    const job = parseJobSpec({ task: 'no models', repo, agent: 'mock' });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const outcome = await executeRun(deps, submitted.runId);
    expect(outcome.reasonCode).not.toBe('BUDGET_EXCEEDED');
  });

  it('a run whose budget is 0 does not start its agent at all', async () => {
    const { runtime, upstream, repo } = await setup({ AAS_SESSION_MAX_COST_USD: '0' });
    const deps = runtime.runnerDeps();
    const job = parseJobSpec({
      task: 'nothing to spend',
      repo,
      agent: 'curl-model',
      agentInput: { command: curlCalls(1) },
    });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const outcome = await executeRun(deps, submitted.runId);
    expect({ code: outcome.reasonCode, attempts: outcome.attempts }).toEqual({
      code: 'BUDGET_EXCEEDED',
      attempts: 0,
    });
    expect(outcome.detail).toBe(
      'session budget (AAS_SESSION_MAX_COST_USD): the cost limit is $0, which allows no model call; attempt 1 was not started',
    );
    expect(forwarded(upstream)).toBe(0);
    expect(await runtime.store.listAttempts(submitted.runId)).toEqual([]);
    const types = (await runtime.store.readEvents(submitted.sessionId)).map((e) => e.type);
    expect(types).not.toContain('agent.started');
    expect(types).toContain('budget.exceeded');
  });
});
