import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/app/index.js';
import { executeRun, parseJobSpec, submitRun } from '../../src/runner/index.js';
import type { StoredEvent } from '../../src/store/index.js';
import { type AgentHarness, filesUnder, startAgentHarness } from '../helpers/agent-harness.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

/**
 * Aider and OpenHands are Python programs that cannot be installed from npm here, so their
 * drivers run against stand-in executables (test/helpers/stand-ins) that follow each one's
 * documented command line and output format, in the bubblewrap sandbox, through the gateway to
 * a scripted OpenAI-compatible model on loopback.
 */

const STAND_INS = join(REPO_ROOT, 'test', 'helpers', 'stand-ins');
const REAL_KEY = 'sk-real-openai-credential-for-stand-in-test';

interface Seen {
  readonly headers: IncomingHttpHeaders;
  readonly body: { model?: string; tools?: unknown[]; messages?: unknown[] };
}

/** What the scripted model asks the agent to do. */
let script: 'hello' | 'escape' = 'hello';

function chat(message: Record<string, unknown>): string {
  return JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1200, completion_tokens: 30, total_tokens: 1230 },
  });
}

function toolCall(name: string, args: unknown): Record<string, unknown> {
  return {
    content: null,
    tool_calls: [
      { id: `call_${name}`, type: 'function', function: { name, arguments: JSON.stringify(args) } },
    ],
  };
}

/** Aider gets SEARCH/REPLACE blocks; OpenHands (it sends tools) gets tool calls, then finish. */
function scriptedModel(seen: Seen[]): Server {
  return createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    const body = JSON.parse(text) as Seen['body'];
    seen.push({ headers: request.headers, body });
    response.writeHead(200, { 'content-type': 'application/json' });
    if (body.tools === undefined) {
      response.end(
        chat({
          content:
            'I will create the file.\n\nhello.txt\n<<<<<<< SEARCH\n=======\nhello from aider\n>>>>>>> REPLACE\n',
        }),
      );
      return;
    }
    const toolResults = (body.messages ?? []).filter(
      (message) => (message as { role?: string }).role === 'tool',
    ).length;
    if (script === 'hello') {
      response.end(
        chat(
          toolResults === 0
            ? toolCall('str_replace_editor', {
                command: 'create',
                path: 'hello.txt',
                file_text: 'hello from openhands\n',
              })
            : toolCall('finish', { message: 'Created hello.txt.' }),
        ),
      );
      return;
    }
    const escapes = [
      toolCall('str_replace_editor', {
        command: 'create',
        path: join(repo, 'escaped.txt'),
        file_text: 'out\n',
      }),
      toolCall('execute_bash', { command: 'echo out > /etc/aas-escaped.txt' }),
      toolCall('finish', { message: 'Tried.' }),
    ];
    response.end(chat(escapes[Math.min(toolResults, 2)] ?? {}));
  });
}

let harness: AgentHarness;
let runtime: Runtime;
let home: string;
let repo = '';
const seen: Seen[] = [];

beforeAll(async () => {
  harness = await startAgentHarness(scriptedModel(seen), (origin) => ({
    AAS_OPENAI_API_KEY: REAL_KEY,
    AAS_OPENAI_BASE_URL: origin,
    AAS_AIDER_BIN: join(STAND_INS, 'aider'),
    AAS_OPENHANDS_BIN: join(STAND_INS, 'openhands'),
  }));
  ({ runtime, home, repo } = harness);
});

afterAll(async () => {
  await harness?.close();
});

/** The agent's own events, as the timeline shows them. */
function agentEvents(events: readonly StoredEvent[]): { type: string; message?: string }[] {
  return events
    .filter((event) => event.type === 'agent.event')
    .map((event) => event.data as { type: string; message?: string });
}

async function runAgent(agent: string) {
  const deps = runtime.runnerDeps();
  const job = parseJobSpec({
    task: 'Create hello.txt',
    repo,
    agent,
    agentInput: { model: 'gpt-5' },
  });
  const submitted = await submitRun(deps, job, 'alice', { reserveFor: deps });
  const outcome = await executeRun(deps, submitted.runId);
  const events = await runtime.store.readEvents(submitted.sessionId);
  return { outcome, events };
}

describe.each([
  { agent: 'aider', content: '+hello from aider', version: 'aider 0.86.1' },
  { agent: 'openhands', content: '+hello from openhands', version: 'OpenHands CLI 1.6.0' },
])('$agent (stand-in) as a driver, behind the gateway', ({ agent, content, version }) => {
  it('edits its workspace; the timeline is normalised; its version is recorded; the key stays out', async () => {
    script = 'hello';
    const before = seen.length;
    const { outcome, events } = await runAgent(agent);
    const timeline = agentEvents(events);
    expect(outcome.status, `${outcome.detail}\n${JSON.stringify(timeline)}`).toBe(
      'ready_for_promotion',
    );
    expect(readFileSync(outcome.patch?.path ?? '', 'utf8')).toContain(content);
    expect(outcome.patch?.files.map((file) => file.path)).toEqual(['hello.txt']);

    expect(timeline.map((event) => event.type)).toEqual(
      expect.arrayContaining([
        'agent.version',
        'agent.message',
        'agent.tool_call',
        'agent.tool_result',
      ]),
    );
    expect(timeline.find((event) => event.type === 'agent.version')?.message).toBe(version);

    // Each call went upstream with the real key and is a costed usage event.
    const calls = seen.slice(before);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    for (const call of calls) expect(call.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    const usage = events.filter((event) => event.type === 'agent.usage');
    expect(usage).toHaveLength(calls.length);
    expect(usage.every((event) => (event.data as { costUsd: number }).costUsd > 0)).toBe(true);
    for (const file of filesUnder(home)) {
      expect(readFileSync(file).includes(REAL_KEY), file).toBe(false);
    }
  }, 60_000);
});

describe('openhands (stand-in) always approves its own actions', () => {
  it('is confined by the sandbox: writes to the checkout and /etc fail, nothing is promoted', async () => {
    script = 'escape';
    const { outcome, events } = await runAgent('openhands');
    expect(existsSync(join(repo, 'escaped.txt'))).toBe(false);
    expect(existsSync('/etc/aas-escaped.txt')).toBe(false);
    expect(outcome.reasonCode).toBe('EMPTY_PATCH');
    const results = agentEvents(events)
      .filter((event) => event.type === 'agent.tool_result')
      .map((event) => (event as unknown as { data: { isError: boolean } }).data.isError);
    // The write to /etc fails inside the sandbox; the one to the checkout's path lands on the
    // sandbox's own scratch view of it and is gone with the sandbox, as the host check shows.
    expect(results).toHaveLength(2);
    expect(results[1]).toBe(true);
  }, 60_000);

  it('requires the AAS sandbox in its manifest policy, as every CLI agent does', () => {
    expect(runtime.registry.get('openhands').policy).toEqual({ sandbox: 'required' });
    expect(runtime.registry.get('aider').policy).toEqual({ sandbox: 'required' });
  });
});
