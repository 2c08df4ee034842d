/**
 * The OpenHands driver. It runs INSIDE the sandbox as the agent process (like mock-agent.ts):
 *
 *   node openhands-adapter.js
 *
 * It reads the AEP job and starts the OpenHands CLI's documented headless mode in the
 * workspace: `openhands --headless --json --override-with-envs -t <prompt>`. Headless mode
 * always approves every action of the agent's (there is no narrower unattended mode), so the
 * manifest's policy layer requires the AAS sandbox: OpenHands never runs outside one.
 *
 * The model is configured through the variables `--override-with-envs` applies: LLM_MODEL
 * (`openai/<model>`), LLM_BASE_URL (the gateway's OpenAI-compatible endpoint) and LLM_API_KEY
 * (the run's placeholder key). Each JSONL line becomes an AEP event: an `action` is a tool
 * call (its `message`/`finish` actions are the agent speaking), an `observation` its result.
 * Importing this module runs it.
 */
import { adapterPrompt, clip, modelOf, runAgentCli, startAdapter } from './adapter-support.js';

const start = startAdapter('openhands-adapter', 'openhands');
const { emit, job } = start;
const baseUrl = start.env('OPENAI_BASE_URL');
const apiKey = start.env('OPENAI_API_KEY');

const model = modelOf(job) ?? 'gpt-5';
const args = ['--headless', '--json', '--override-with-envs', '-t', adapterPrompt(job)];

type Json = Record<string, unknown>;
let lastMessage = '';
let error: string | null = null;
let actionNumber = 0;
/** Observations answer the latest action; OpenHands runs one action at a time. */
let openAction: string | null = null;

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
}

function onLine(line: string): void {
  let event: Json;
  try {
    event = JSON.parse(line) as Json;
  } catch {
    return;
  }
  switch (event.type) {
    case 'action': {
      const { type: _type, action, thought, ...input } = event;
      if (typeof thought === 'string' && thought.trim() !== '') {
        emit('agent.message', thought, { role: 'assistant', kind: 'thought' });
      }
      if (action === 'message' || action === 'finish') {
        const said = text(event.message ?? event.content);
        if (said !== '') {
          lastMessage = said;
          emit('agent.message', said, { role: 'assistant' });
        }
        break;
      }
      actionNumber += 1;
      openAction = `action-${actionNumber}`;
      emit('agent.tool_call', `${text(action)} ${text(event.path ?? event.command)}`.trim(), {
        id: openAction,
        name: text(action),
        input,
      });
      break;
    }
    case 'observation': {
      const exitCode = typeof event.exit_code === 'number' ? event.exit_code : 0;
      emit('agent.tool_result', undefined, {
        id: openAction,
        isError: event.error === true || exitCode !== 0,
        output: clip(text(event.content)),
      });
      openAction = null;
      break;
    }
    case 'message':
      if (event.source !== 'user') {
        lastMessage = text(event.content);
        emit('agent.message', lastMessage, { role: 'assistant' });
      }
      break;
    case 'error':
      error = text(event.message ?? event.content) || 'error';
      emit('agent.message', error, { role: 'error' });
      break;
    default:
      break;
  }
}

runAgentCli(start, {
  args,
  env: {
    LLM_MODEL: model.includes('/') ? model : `openai/${model}`,
    LLM_BASE_URL: baseUrl,
    LLM_API_KEY: apiKey,
  },
  onLine,
  outcome: () => ({
    ...(error === null ? {} : { failed: true }),
    summary: error ?? lastMessage,
  }),
});
