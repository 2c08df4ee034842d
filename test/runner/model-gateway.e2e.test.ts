import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/kernel/index.js';
import { executeRun, parseJobSpec, submitRun } from '../../src/runner/index.js';
import { type ScriptedUpstream, startScriptedUpstream } from '../gateway/scripted-upstream.js';
import { filesUnder } from '../helpers/agent-harness.js';
import { bubblewrapSelfTest } from '../helpers/bubblewrap-self-test.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * An agent that calls a model provider, run for real: in the bubblewrap sandbox (no network),
 * through the model gateway bridged in at 127.0.0.1:4100, to a scripted provider on loopback.
 * The real credential reaches the provider and nothing else; every call is recorded and
 * costed; past the budget the provider sees nothing more and the run ends BUDGET_EXCEEDED.
 */

const REAL_KEY = 'sk-ant-real-credential-0123456789abcdef';

// The gateway's fixed in-sandbox address (127.0.0.1:4100) exists only inside bubblewrap's
// network namespace; unsandboxed, the agent is pointed at the gateway's host port instead.
const selfTest = await bubblewrapSelfTest('the sandboxed model-gateway test');
const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A shell agent that calls the Messages API `calls` times with curl and keeps the answers. */
function curlAgent(calls: number): string {
  return [
    'env > env.txt',
    `i=0; while [ $i -lt ${calls} ]; do`,
    '  i=$((i+1))',
    '  curl -sS -m 10 -o "answer-$i.json" -w "%{http_code}\\n" -H "x-api-key: $ANTHROPIC_API_KEY"' +
      ' -H "anthropic-version: 2023-06-01" -H "content-type: application/json"' +
      ` -d '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'` +
      ' "$ANTHROPIC_BASE_URL/v1/messages" >> codes.txt',
    'done',
  ].join('\n');
}

async function setup(): Promise<{
  runtime: Runtime;
  upstream: ScriptedUpstream;
  home: string;
  repo: string;
}> {
  const upstream = await startScriptedUpstream();
  const home = makeTempDir('aas-gw-home-');
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
  return { runtime, upstream, home, repo };
}

describe('agents behind the model gateway', () => {
  it.skipIf(!selfTest.ok)(
    'calls go through the gateway with the real key; the sandbox never holds it',
    async () => {
      const { runtime, upstream, home, repo } = await setup();
      const deps = runtime.runnerDeps();
      const job = parseJobSpec({
        task: 'ask',
        repo,
        agent: 'curl-model',
        agentInput: { command: curlAgent(2) },
      });
      const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
      const outcome = await executeRun(deps, submitted.runId);
      expect(outcome.status, outcome.detail).toBe('ready_for_promotion');

      const messages = upstream.requests.filter((r) => r.url === '/v1/messages');
      expect(messages).toHaveLength(2);
      for (const request of messages) expect(request.headers['x-api-key']).toBe(REAL_KEY);

      const patch = readFileSync(outcome.patch?.path ?? '', 'utf8');
      expect(patch).toContain('+200');
      expect(patch).toMatch(/ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:4100/);
      expect(patch).toMatch(/ANTHROPIC_API_KEY=aas-run-/);
      // Nowhere AAS wrote (the patch, logs, events, the database) holds the real key.
      for (const file of filesUnder(home)) {
        expect(readFileSync(file).includes(REAL_KEY), file).toBe(false);
      }
      const events = await runtime.store.readEvents(submitted.sessionId);
      const usage = events.filter((event) => event.type === 'agent.usage');
      expect(usage).toHaveLength(2);
      expect(usage[0]?.data).toMatchObject({
        provider: 'anthropic',
        api: 'messages',
        model: 'claude-sonnet-4-5',
        status: 200,
        inputTokens: 150,
        outputTokens: 50,
        cachedInputTokens: 30,
        refused: null,
      });
      const cost = (usage[0]?.data as { costUsd?: number } | undefined)?.costUsd;
      expect(cost).toBeCloseTo(0.001119, 9);
    },
  );

  it('past maxCostUsd the provider sees no call, the agent is stopped, the run ends BUDGET_EXCEEDED', async () => {
    const { runtime, upstream, repo } = await setup();
    const deps = runtime.runnerDeps();
    const job = parseJobSpec({
      task: 'spend',
      repo,
      agent: 'curl-model',
      agentInput: { command: `${curlAgent(6)}; sleep 30` },
      policy: { limits: { maxCostUsd: 0.002 } },
    });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const outcome = await executeRun(deps, submitted.runId);
    expect({ status: outcome.status, code: outcome.reasonCode }).toEqual({
      status: 'failed',
      code: 'BUDGET_EXCEEDED',
    });
    // Two calls of $0.001119 spend the $0.002: nothing after them reached the provider.
    expect(upstream.requests.filter((r) => r.url === '/v1/messages')).toHaveLength(2);
    const types = (await runtime.store.readEvents(submitted.sessionId)).map((e) => e.type);
    expect(types).toContain('budget.exceeded');
    expect(outcome.detail).toMatch(/spent \$0\.002238 of the \$0\.002 cost limit/);
  });

  it('refuses up front an agent whose provider has no credential here', async () => {
    const { runtime, repo, home } = await setup();
    writeFileSync(
      join(home, 'agents', 'needs-openai.json'),
      JSON.stringify({
        id: 'needs-openai',
        entrypoint: '/bin/true',
        modelGateway: ['openai'],
        result: 'exit-code',
      }),
    );
    const reopened = await createRuntime(
      parseConfig({ env: { AAS_HOME: home, AAS_ANTHROPIC_API_KEY: REAL_KEY }, cwd: home }),
      { hostEnv: {}, nodePath: process.execPath, log: silentLogger, recover: false },
    );
    cleanup.push(() => reopened.close());
    void runtime;
    const deps = reopened.runnerDeps();
    const job = parseJobSpec({ task: 'x', repo, agent: 'needs-openai' });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const outcome = await executeRun(deps, submitted.runId);
    expect(outcome.reasonCode).toBe('CONFIG_INVALID');
    expect(outcome.detail).toMatch(/AAS_OPENAI_API_KEY/);
  });
});
