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
 * The real Claude Code CLI (pinned, installed from npm at set-up into a cache under
 * node_modules/.cache) as a driver: in the bubblewrap sandbox with no network, its model calls
 * through the gateway to a scripted model on loopback that tells it to write a file. The patch
 * holds the file; the provider credential reached the model server on every call and appears
 * nowhere in the sandbox, its files or the history.
 */

const CLAUDE_CODE_VERSION = '2.1.328';
const REAL_KEY = 'sk-ant-real-credential-for-claude-code-test';
/** The native binary ships in the platform package; no install script is run. */
function installClaudeCode(): string {
  return installPinnedCli('@anthropic-ai/claude-code', CLAUDE_CODE_VERSION, (prefix) =>
    join(prefix, 'node_modules', '@anthropic-ai', `claude-code-linux-${process.arch}`, 'claude'),
  );
}

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/**
 * What the scripted model asks Claude Code to do:
 * - `hello`: write hello.txt in its working directory, then end the turn;
 * - `escape`: write outside it (the user's checkout, /etc), then end the turn;
 * - `loop`: write another file every turn, forever (only a budget stops it).
 */
type Script = 'hello' | 'escape' | 'loop';
let script: Script = 'hello';

function toolInput(workdir: string, turn: number): { file_path: string; content: string } {
  switch (script) {
    case 'hello':
      return { file_path: join(workdir, 'hello.txt'), content: 'hello from claude code\n' };
    case 'escape':
      return {
        file_path: turn % 2 === 0 ? join(repo, 'escaped.txt') : '/etc/aas-escaped.txt',
        content: 'out\n',
      };
    case 'loop':
      return { file_path: join(workdir, `loop-${turn}.txt`), content: `${turn}\n` };
  }
}

/** Asks for a Write tool call each turn until the script says the turn is over. */
function scriptedModel(seen: Seen[]): Server {
  return createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    if (!request.url?.startsWith('/v1/messages')) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"type":"error","error":{"type":"not_found_error","message":"no"}}');
      return;
    }
    const body = JSON.parse(text) as Record<string, unknown>;
    seen.push({ url: request.url, headers: request.headers, body });
    if (request.url.includes('count_tokens')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"input_tokens":10}');
      return;
    }
    // The body is JSON: the path ends at the escaped newline that follows it.
    const workdir = /Primary working directory: ([^\s\\"]+)/.exec(text)?.[1] ?? '/nonexistent';
    const turns = (text.match(/"tool_result"/g) ?? []).length;
    const toolRan = script === 'loop' ? false : script === 'escape' ? turns >= 2 : turns >= 1;
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (event: string, data: unknown) =>
      response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('message_start', {
      type: 'message_start',
      message: {
        id: `msg_${seen.length}`,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 1000, output_tokens: 1 },
      },
    });
    if (toolRan) {
      send('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      });
      send('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Wrote hello.txt.' },
      });
    } else {
      const input = toolInput(workdir, turns);
      send('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: `toolu_${seen.length}`, name: 'Write', input: {} },
      });
      send('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) },
      });
    }
    send('content_block_stop', { type: 'content_block_stop', index: 0 });
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: toolRan ? 'end_turn' : 'tool_use', stop_sequence: null },
      usage: { output_tokens: 40 },
    });
    send('message_stop', { type: 'message_stop' });
    response.end();
  });
}

let harness: AgentHarness;
let runtime: Runtime;
let home: string;
let repo = '';
const seen: Seen[] = [];

beforeAll(async () => {
  const claude = installClaudeCode();
  harness = await startAgentHarness(scriptedModel(seen), (origin) => ({
    AAS_ANTHROPIC_API_KEY: REAL_KEY,
    AAS_ANTHROPIC_BASE_URL: origin,
    AAS_CLAUDE_CODE_BIN: claude,
  }));
  ({ runtime, home, repo } = harness);
}, 360_000);

afterAll(async () => {
  await harness?.close();
});

describe('Claude Code as a driver, behind the gateway', () => {
  it('edits its workspace through its Write tool; the patch holds the file; the key stays out', async () => {
    const deps = runtime.runnerDeps();
    const job = parseJobSpec({
      task: 'Create hello.txt',
      repo,
      agent: 'claude-code',
      agentInput: { model: 'claude-sonnet-4-5' },
    });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const outcome = await executeRun(deps, submitted.runId);
    const logs = filesUnder(join(home, 'runs'))
      .filter((file) => /std(out|err)\.log$/.test(file))
      .map((file) => `${file}:\n${readFileSync(file, 'utf8').slice(-2000)}`)
      .join('\n');
    const timeline = (await runtime.store.readEvents(submitted.sessionId))
      .filter((event) => event.type === 'agent.event')
      .map((event) => JSON.stringify(event.data).slice(0, 400))
      .join('\n');
    expect(outcome.status, `${outcome.detail}\n${logs}\n${timeline}`).toBe('ready_for_promotion');
    const patch = readFileSync(outcome.patch?.path ?? '', 'utf8');
    expect(patch).toContain('+hello from claude code');
    expect(outcome.patch?.files.map((file) => file.path)).toEqual(['hello.txt']);

    // Every model call carried the real key upstream, never the placeholder.
    const messages = seen.filter((call) => !call.url.includes('count_tokens'));
    expect(messages.length).toBeGreaterThanOrEqual(2);
    for (const call of messages) expect(call.headers['x-api-key']).toBe(REAL_KEY);
    for (const file of filesUnder(home)) {
      expect(readFileSync(file).includes(REAL_KEY), file).toBe(false);
    }
    const events = await runtime.store.readEvents(submitted.sessionId);
    const inner = events
      .filter((event) => event.type === 'agent.event')
      .map((event) => (event.data as { type: string }).type);
    expect(inner).toEqual(
      expect.arrayContaining([
        'agent.version',
        'agent.tool_call',
        'agent.tool_result',
        'agent.message',
      ]),
    );
    // The version the binary itself reports, recorded in the session.
    const version = events
      .map((event) => event.data as { type?: string; message?: string })
      .find((data) => data.type === 'agent.version');
    expect(version?.message).toContain(CLAUDE_CODE_VERSION);
    const usage = events.filter((event) => event.type === 'agent.usage');
    expect(usage.length).toBe(messages.length);
    expect(usage.every((event) => (event.data as { costUsd: number }).costUsd > 0)).toBe(true);
  }, 120_000);

  it('cannot write outside its workspace: the checkout and /etc are untouched', async () => {
    script = 'escape';
    const deps = runtime.runnerDeps();
    const job = parseJobSpec({
      task: 'Write outside',
      repo,
      agent: 'claude-code',
      agentInput: { model: 'claude-sonnet-4-5' },
    });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const outcome = await executeRun(deps, submitted.runId);
    expect(existsSync(join(repo, 'escaped.txt'))).toBe(false);
    expect(existsSync('/etc/aas-escaped.txt')).toBe(false);
    // Nothing reached the patch either: the run has nothing to promote.
    expect(outcome.reasonCode).toBe('EMPTY_PATCH');
    const results = (await runtime.store.readEvents(submitted.sessionId))
      .filter((event) => (event.data as { type?: string }).type === 'agent.tool_result')
      .map((event) => (event.data as { data: { isError: boolean } }).data.isError);
    expect(results).toEqual([true, true]);
  }, 120_000);

  it('keeps calling past a small budget: BUDGET_EXCEEDED, and the model saw no call after the cap', async () => {
    script = 'loop';
    const before = seen.filter((call) => !call.url.includes('count_tokens')).length;
    const deps = runtime.runnerDeps();
    const job = parseJobSpec({
      task: 'Write files forever',
      repo,
      agent: 'claude-code',
      agentInput: { model: 'claude-sonnet-4-5' },
      // Each call costs 1,000 input and 40 output tokens of Sonnet: $0.0036. Three spend $0.01.
      policy: { limits: { maxCostUsd: 0.01 } },
    });
    const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
    const outcome = await executeRun(deps, submitted.runId);
    expect({ status: outcome.status, code: outcome.reasonCode }).toEqual({
      status: 'failed',
      code: 'BUDGET_EXCEEDED',
    });
    const calls = seen.filter((call) => !call.url.includes('count_tokens')).length - before;
    expect(calls).toBe(3);
    const usage = (await runtime.store.readEvents(submitted.sessionId)).filter(
      (event) => event.type === 'agent.usage',
    );
    expect(
      usage.filter((event) => (event.data as { refused: unknown }).refused === null),
    ).toHaveLength(3);
  }, 120_000);
});
