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
 * The real Codex CLI (pinned, installed from npm at set-up into node_modules/.cache) as a
 * driver: in the bubblewrap sandbox with no network, its Responses API calls through the
 * gateway to a scripted model on loopback that makes it run shell commands.
 */

const CODEX_VERSION = '0.169.0';
const REAL_KEY = 'sk-openai-real-credential-for-codex-test';
const TRIPLE =
  process.arch === 'arm64' ? 'aarch64-unknown-linux-musl' : 'x86_64-unknown-linux-musl';

/** The native binary ships in the platform package; no install script is run. */
function installCodex(): string {
  return installPinnedCli('@openai/codex', CODEX_VERSION, (prefix) =>
    join(
      prefix,
      'node_modules',
      '@openai',
      `codex-linux-${process.arch}`,
      'vendor',
      TRIPLE,
      'bin',
      'codex',
    ),
  );
}

type Script = 'hello' | 'escape' | 'loop';
let script: Script = 'hello';
let repo = '';

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** A Responses API model that asks for exec_command calls until its script says it is done. */
function scriptedModel(seen: Seen[]): Server {
  return createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    if (!request.url?.startsWith('/v1/responses')) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"error":{"message":"no","type":"invalid_request_error"}}');
      return;
    }
    seen.push({ url: request.url, headers: request.headers });
    const body = JSON.parse(text) as { model?: string };
    const outputs = (text.match(/"function_call_output"/g) ?? []).length;
    const commands: Record<Script, string | null> = {
      hello: outputs === 0 ? 'echo hello from codex > hello.txt' : null,
      escape:
        outputs === 0
          ? `echo out > ${join(repo, 'escaped.txt')}`
          : outputs === 1
            ? 'echo out > /etc/aas-escaped.txt'
            : null,
      loop: `echo ${outputs} > loop-${outputs}.txt`,
    };
    const command = commands[script];
    const item =
      command === null
        ? {
            id: 'msg_1',
            type: 'message',
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'Done.', annotations: [] }],
          }
        : {
            id: `fc_${seen.length}`,
            type: 'function_call',
            status: 'completed',
            call_id: `call_${seen.length}`,
            name: 'exec_command',
            arguments: JSON.stringify({ cmd: command }),
          };
    const id = `resp_${seen.length}`;
    const usage = {
      input_tokens: 1000,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 40,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 1040,
    };
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (data: { type: string }) =>
      response.write(`event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`);
    send({
      type: 'response.created',
      response: { id, object: 'response', status: 'in_progress', model: body.model, output: [] },
    } as { type: string });
    send({ type: 'response.output_item.done', output_index: 0, item } as { type: string });
    send({
      type: 'response.completed',
      response: {
        id,
        object: 'response',
        status: 'completed',
        model: body.model,
        output: [item],
        usage,
      },
    } as { type: string });
    response.end();
  });
}

let harness: AgentHarness;
let runtime: Runtime;
let home: string;
const seen: Seen[] = [];

beforeAll(async () => {
  const codex = installCodex();
  harness = await startAgentHarness(scriptedModel(seen), (origin) => ({
    AAS_OPENAI_API_KEY: REAL_KEY,
    AAS_OPENAI_BASE_URL: origin,
    AAS_CODEX_BIN: codex,
  }));
  ({ runtime, home, repo } = harness);
}, 360_000);

afterAll(async () => {
  await harness?.close();
});

async function runCodex(task: string, extra: Record<string, unknown> = {}) {
  const deps = runtime.runnerDeps();
  const job = parseJobSpec({
    task,
    repo,
    agent: 'codex',
    agentInput: { model: 'gpt-5' },
    ...extra,
  });
  const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
  const outcome = await executeRun(deps, submitted.runId);
  const events = await runtime.store.readEvents(submitted.sessionId);
  return { outcome, events };
}

describe('Codex CLI as a driver, behind the gateway', () => {
  it('edits its workspace with its shell tool; the patch holds the file; the key stays out', async () => {
    script = 'hello';
    const { outcome, events } = await runCodex('Create hello.txt');
    const timeline = events
      .filter((event) => event.type === 'agent.event')
      .map((event) => JSON.stringify(event.data).slice(0, 300))
      .join('\n');
    expect(outcome.status, `${outcome.detail}\n${timeline}`).toBe('ready_for_promotion');
    expect(readFileSync(outcome.patch?.path ?? '', 'utf8')).toContain('+hello from codex');
    for (const call of seen) expect(call.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    for (const file of filesUnder(home)) {
      expect(readFileSync(file).includes(REAL_KEY), file).toBe(false);
    }
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
    // The version the binary itself reports (`codex-cli 0.169.0`), recorded in the session.
    const version = events
      .map((event) => event.data as { type?: string; message?: string })
      .find((data) => data.type === 'agent.version');
    expect(version?.message).toContain(CODEX_VERSION);
    expect(events.filter((event) => event.type === 'agent.usage').length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('cannot write outside its workspace', async () => {
    script = 'escape';
    const { outcome } = await runCodex('Write outside');
    expect(existsSync(join(repo, 'escaped.txt'))).toBe(false);
    expect(existsSync('/etc/aas-escaped.txt')).toBe(false);
    expect(outcome.reasonCode).toBe('EMPTY_PATCH');
  }, 120_000);

  it('past a small budget: BUDGET_EXCEEDED, and the model saw no call after the cap', async () => {
    script = 'loop';
    const before = seen.length;
    // Each call: 1,000 input and 40 output tokens of gpt-5 ($1.25 / $10 per M) = $0.00165.
    const { outcome } = await runCodex('Loop', { policy: { limits: { maxCostUsd: 0.004 } } });
    expect({ status: outcome.status, code: outcome.reasonCode }).toEqual({
      status: 'failed',
      code: 'BUDGET_EXCEEDED',
    });
    expect(seen.length - before).toBe(3);
  }, 120_000);
});
