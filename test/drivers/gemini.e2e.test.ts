import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/app/index.js';
import { executeRun, parseJobSpec, submitRun } from '../../src/runner/index.js';
import {
  type AgentHarness,
  filesUnder,
  installPinnedCli,
  startAgentHarness,
} from '../helpers/agent-harness.js';

/**
 * The real Gemini CLI (pinned, installed from npm at set-up into node_modules/.cache) as a
 * driver: in the bubblewrap sandbox with no network, its Gemini API calls through the gateway
 * to a scripted model on loopback that asks for write_file calls.
 */

const GEMINI_VERSION = '0.61.0';
const REAL_KEY = 'AIza-real-gemini-credential-for-test';
const MODEL = 'gemini-2.5-pro';

function installGemini(): string {
  return installPinnedCli('@google/gemini-cli', GEMINI_VERSION, (prefix) =>
    join(prefix, 'node_modules', '@google', 'gemini-cli', 'bundle', 'gemini.js'),
  );
}

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * - `hello`: write hello.txt in the workspace, then answer;
 * - `escape`: write to the user's checkout, then to /etc, then answer;
 * - `loop`: write another file every turn, forever (only a budget stops it).
 */
type Script = 'hello' | 'escape' | 'loop';
let script: Script = 'hello';
let repo = '';

function writeCall(workdir: string, turn: number): { file_path: string; content: string } {
  switch (script) {
    case 'hello':
      return { file_path: join(workdir, 'hello.txt'), content: 'hello from gemini\n' };
    case 'escape':
      return {
        file_path: turn === 0 ? join(repo, 'escaped.txt') : '/etc/aas-escaped.txt',
        content: 'out\n',
      };
    case 'loop':
      return { file_path: join(workdir, `loop-${turn}.txt`), content: `${turn}\n` };
  }
}

/** A Gemini API model (streamGenerateContent, SSE) that asks for writes until its script ends. */
function scriptedModel(seen: Seen[]): Server {
  return createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    const url = request.url ?? '';
    if (!/^\/v1beta\/models\/[^/:]+:streamGenerateContent/.test(url)) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"error":{"code":404,"message":"no","status":"NOT_FOUND"}}');
      return;
    }
    seen.push({ url, headers: request.headers });
    // The body is JSON: the path ends at the escaped newline that follows it.
    const workdir = /Workspace Directories:\*\*\\n {2}- ([^\s\\"]+)/.exec(text)?.[1] ?? '/none';
    const turns = (text.match(/"functionResponse"/g) ?? []).length;
    const done = script === 'loop' ? false : script === 'escape' ? turns >= 2 : turns >= 1;
    const part = done
      ? { text: 'Done.' }
      : { functionCall: { name: 'write_file', args: writeCall(workdir, turns) } };
    const chunk = {
      candidates: [{ content: { role: 'model', parts: [part] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 2000, candidatesTokenCount: 40, totalTokenCount: 2040 },
      modelVersion: MODEL,
    };
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.end(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
  });
}

let harness: AgentHarness;
let runtime: Runtime;
let home: string;
const seen: Seen[] = [];

beforeAll(async () => {
  const gemini = installGemini();
  harness = await startAgentHarness(scriptedModel(seen), (origin) => ({
    AAS_GEMINI_API_KEY: REAL_KEY,
    AAS_GEMINI_BASE_URL: origin,
    AAS_GEMINI_BIN: gemini,
  }));
  ({ runtime, home, repo } = harness);
}, 360_000);

afterAll(async () => {
  await harness?.close();
});

async function runGemini(task: string, extra: Record<string, unknown> = {}) {
  const deps = runtime.runnerDeps();
  const job = parseJobSpec({ task, repo, agent: 'gemini', agentInput: { model: MODEL }, ...extra });
  const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
  const outcome = await executeRun(deps, submitted.runId);
  const events = await runtime.store.readEvents(submitted.sessionId);
  const agentEvents = events
    .filter((event) => event.type === 'agent.event')
    .map((event) => event.data as { type: string; message?: string; data: unknown });
  return { outcome, events, agentEvents };
}

describe('Gemini CLI as a driver, behind the gateway', () => {
  it('edits its workspace; the patch holds the file; its version is recorded; the key stays out', async () => {
    const { outcome, events, agentEvents } = await runGemini('Create hello.txt');
    expect(outcome.status, `${outcome.detail}\n${JSON.stringify(agentEvents)}`).toBe(
      'ready_for_promotion',
    );
    expect(readFileSync(outcome.patch?.path ?? '', 'utf8')).toContain('+hello from gemini');
    expect(outcome.patch?.files.map((file) => file.path)).toEqual(['hello.txt']);
    expect(agentEvents.map((event) => event.type)).toEqual(
      expect.arrayContaining([
        'agent.version',
        'agent.tool_call',
        'agent.tool_result',
        'agent.message',
        'agent.usage',
      ]),
    );
    expect(agentEvents.find((event) => event.type === 'agent.version')?.message).toBe(
      GEMINI_VERSION,
    );

    // Every call carried the real key upstream in x-goog-api-key, never the placeholder.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const call of seen) {
      expect(call.headers['x-goog-api-key']).toBe(REAL_KEY);
      expect(call.url).not.toContain('key=');
      // The run's placeholder (`aas-run-…`) never reaches the provider.
      expect(JSON.stringify(call.headers)).not.toContain('aas-run-');
      expect(call.url).not.toContain('aas-run-');
    }
    for (const file of filesUnder(home)) {
      expect(readFileSync(file).includes(REAL_KEY), file).toBe(false);
    }
    const usage = events.filter((event) => event.type === 'agent.usage');
    expect(usage).toHaveLength(seen.length);
    expect(usage.every((event) => (event.data as { costUsd: number }).costUsd > 0)).toBe(true);
  }, 120_000);

  it('cannot write outside its workspace: the checkout and /etc are untouched', async () => {
    script = 'escape';
    const { outcome, agentEvents } = await runGemini('Write outside');
    expect(existsSync(join(repo, 'escaped.txt'))).toBe(false);
    expect(existsSync('/etc/aas-escaped.txt')).toBe(false);
    expect(outcome.reasonCode).toBe('EMPTY_PATCH');
    const results = agentEvents
      .filter((event) => event.type === 'agent.tool_result')
      .map((event) => (event.data as { isError: boolean }).isError);
    expect(results).toEqual([true, true]);
  }, 120_000);

  it('keeps calling past a small budget: BUDGET_EXCEEDED, and the model saw no call after the cap', async () => {
    script = 'loop';
    const before = seen.length;
    // Each call costs 2,000 input and 40 output tokens of Gemini 2.5 Pro: $0.0029. Three
    // reach $0.008.
    const { outcome, events } = await runGemini('Write files forever', {
      policy: { limits: { maxCostUsd: 0.008 } },
    });
    expect({ status: outcome.status, code: outcome.reasonCode }).toEqual({
      status: 'failed',
      code: 'BUDGET_EXCEEDED',
    });
    expect(seen.length - before).toBe(3);
    const usage = events.filter((event) => event.type === 'agent.usage');
    expect(
      usage.filter((event) => (event.data as { refused: unknown }).refused === null),
    ).toHaveLength(3);
  }, 120_000);
});
