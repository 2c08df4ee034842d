import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/app/index.js';
import { runCli } from '../../src/cli/program.js';
import { parseConfig } from '../../src/config/index.js';
import { ManualClock, silentLogger } from '../../src/kernel/index.js';
import type { StoredEvent } from '../../src/store/index.js';
import { memoryIo } from '../cli/client-fake-server.js';
import { type ScriptedUpstream, startScriptedUpstream } from '../gateway/scripted-upstream.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * The repository-day budget on a real server: runs submitted through the API and executed by
 * its embedded worker share one repository's daily allowance; once it is spent, the next run of
 * that repository ends BUDGET_EXCEEDED before its agent starts and the provider sees nothing,
 * while another repository and the next UTC day (an injected clock, no sleeping) are unaffected.
 * The API and `aas sessions show` report the spend, and /metrics counts it.
 *
 * Every call of the scripted provider costs $0.001119: 150 input tokens (30 cached), 50 output.
 */

const REAL_KEY = 'sk-ant-real-credential-0123456789abcdef';
const TOKEN = `aas_${'b'.repeat(40)}`;
const CALL_USD = 0.001119;
const V1 = '/api/v1';

/** `calls` Messages API calls with curl, then a file written so a patch exists. */
function curlAgent(calls: number): string {
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

interface SessionView {
  readonly session: { id: string; status: string; reasonCode: string | null };
  readonly runs: {
    id: string;
    status: string;
    reasonCode: string | null;
    reasonDetail: string | null;
  }[];
  readonly spend: {
    total: {
      calls: number;
      inputTokens: number;
      outputTokens: number;
      cachedInputTokens: number;
      costUsd: number;
    };
    runs: { runId: string; spend: { calls: number; costUsd: number } }[];
  };
}

describe('model budgets on a server', () => {
  // 23:00 UTC: the day ends an hour into the test's clock.
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 23, 0));
  let upstream: ScriptedUpstream;
  let server: RunningServer;
  let home: string;
  let repo: string;
  let otherRepo: string;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const response = await fetch(`${server.url}${V1}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
    return (response.headers.get('content-type') ?? '').includes('json')
      ? (JSON.parse(text) as T)
      : (text as T);
  };

  /** Submits through the API and waits for the embedded worker to decide the run. */
  async function run(onRepo: string, calls: number): Promise<SessionView> {
    const { sessionId } = await api<{ sessionId: string }>('/sessions', {
      method: 'POST',
      body: JSON.stringify({
        task: `${calls} calls`,
        repo: onRepo,
        agent: 'curl-model',
        agentInput: { command: curlAgent(calls) },
      }),
    });
    for (let polls = 0; polls < 300; polls += 1) {
      const view = await api<SessionView>(`/sessions/${sessionId}`);
      if (view.session.status !== 'queued' && view.session.status !== 'running') return view;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`session ${sessionId} did not finish`);
  }

  const forwarded = () => upstream.requests.filter((r) => r.url === '/v1/messages').length;

  const events = async (sessionId: string) =>
    (await api<{ items: StoredEvent[] }>(`/sessions/${sessionId}/events?limit=1000`)).items;

  beforeAll(async () => {
    upstream = await startScriptedUpstream();
    home = makeTempDir('aas-budget-server-');
    repo = createTempRepo({ 'README.md': '# demo\n' });
    otherRepo = createTempRepo({ 'README.md': '# other\n' });
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
    server = await startServer(
      parseConfig({
        env: {
          AAS_HOME: home,
          AAS_PORT: '0',
          AAS_WORKERS: '1',
          AAS_BOOTSTRAP_TOKEN: TOKEN,
          AAS_ANTHROPIC_API_KEY: REAL_KEY,
          AAS_ANTHROPIC_BASE_URL: upstream.origin,
          // Two calls fit, the third crosses it.
          AAS_REPO_DAILY_MAX_COST_USD: '0.003',
        },
        cwd: home,
      }),
      { hostEnv: {}, nodePath: process.execPath, log: silentLogger, clock },
    );
  });

  afterAll(async () => {
    await server?.close();
    await upstream?.close();
    for (const dir of [home, repo, otherRepo]) if (dir) removeDir(dir);
  });

  it('stops a repository for the rest of the UTC day once its runs spent the daily budget', async () => {
    // Run 1 spends $0.002238 of the $0.003 and finishes.
    const first = await run(repo, 2);
    expect(first.session.status).toBe('ready_for_promotion');
    expect(forwarded()).toBe(2);

    // Run 2 starts with $0.000762 left: its first call crosses the cap, the rest are refused.
    const second = await run(repo, 3);
    expect(second.runs[0]).toMatchObject({ status: 'failed', reasonCode: 'BUDGET_EXCEEDED' });
    expect(second.runs[0]?.reasonDetail).toBe(
      `repository-day budget (AAS_REPO_DAILY_MAX_COST_USD, ${repo} on 2026-01-01 UTC): spent $0.003357 of the $0.003 cost limit; the agent was stopped`,
    );
    expect(forwarded()).toBe(3);

    // Run 3: nothing is left today. Its agent never starts and the provider sees nothing.
    const third = await run(repo, 1);
    expect(third.runs[0]).toMatchObject({ status: 'failed', reasonCode: 'BUDGET_EXCEEDED' });
    expect(third.runs[0]?.reasonDetail).toMatch(
      /^repository-day budget .*: spent \$0\.003357 of the \$0\.003 cost limit; attempt 1 was not started$/,
    );
    expect(forwarded()).toBe(3);
    const refused = await events(third.session.id);
    expect(refused.map((event) => event.type)).not.toContain('agent.started');
    expect(refused.find((event) => event.type === 'budget.exceeded')?.data).toMatchObject({
      scope: 'repository-day',
      stage: 'before_attempt',
      limitValue: 0.003,
    });

    // Another repository has its own day.
    const elsewhere = await run(otherRepo, 1);
    expect(elsewhere.session.status).toBe('ready_for_promotion');
    expect(forwarded()).toBe(4);

    // The next UTC day starts with the whole budget again.
    clock.advance(3_600_000);
    const tomorrow = await run(repo, 1);
    expect(tomorrow.session.status).toBe('ready_for_promotion');
    expect(forwarded()).toBe(5);

    // The API reports each session's spend, and each run's.
    expect(first.spend.total).toEqual({
      calls: 2,
      inputTokens: 300,
      outputTokens: 100,
      cachedInputTokens: 60,
      costUsd: expect.closeTo(2 * CALL_USD, 9),
    });
    expect(first.spend.runs).toEqual([{ runId: first.runs[0]?.id, spend: first.spend.total }]);
    expect(second.spend.total.calls).toBe(1);
    expect(third.spend.total.calls).toBe(0);
    const runView = await api<{ spend: { calls: number; costUsd: number } }>(
      `/runs/${second.runs[0]?.id}`,
    );
    expect(runView.spend).toMatchObject({ calls: 1, costUsd: expect.closeTo(CALL_USD, 9) });

    // `aas sessions show` prints it, through the same API.
    const io = memoryIo({ AAS_SERVER: server.url, AAS_TOKEN: TOKEN });
    expect(await runCli(['sessions', 'show', first.session.id], io), io.err()).toBe(0);
    expect(io.out()).toContain(
      'spend     2 model calls, 300 input tokens (60 cached), 100 output tokens, $0.002238\n',
    );

    // The embedded worker's calls are counted by the server's metrics.
    const metrics = await api<string>('/metrics');
    const value = (series: string) => {
      const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
      return Number(line?.slice(series.length + 1) ?? Number.NaN);
    };
    expect(
      value('aas_model_calls_total{provider="anthropic",model="claude-sonnet-4-5",status="200"}'),
    ).toBe(5);
    expect(value('aas_model_tokens_total{provider="anthropic",direction="input"}')).toBe(750);
    expect(value('aas_model_tokens_total{provider="anthropic",direction="output"}')).toBe(250);
    expect(value('aas_model_tokens_total{provider="anthropic",direction="cached_input"}')).toBe(
      150,
    );
    expect(value('aas_model_cost_usd_total{provider="anthropic"}')).toBeCloseTo(5 * CALL_USD, 9);
    expect(value('aas_budget_exceeded_total{scope="repository-day"}')).toBe(2);
    expect(value('aas_budget_exceeded_total{scope="session"}')).toBe(0);
  });
});
