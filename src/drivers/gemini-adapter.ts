/**
 * The Gemini CLI driver. It runs INSIDE the sandbox as the agent process (like mock-agent.ts):
 *
 *   node gemini-adapter.js
 *
 * It reads the AEP job and starts `gemini -p <prompt> --output-format stream-json
 * --approval-mode auto_edit` in the workspace. `auto_edit` is the narrowest mode in which
 * Gemini CLI edits files without asking; a shell command would need a confirmation nobody can
 * give, so it is refused by the CLI itself, and everything else is bounded by the sandbox.
 *
 * The model is reached through AAS's gateway: GOOGLE_GEMINI_BASE_URL and a placeholder
 * GEMINI_API_KEY are in the environment the runner built. Gemini CLI only reads the key from
 * the environment when its settings name API-key auth (with the base URL set and no setting it
 * picks "gateway" auth, which headless mode rejects), so the adapter writes those settings in
 * the agent's own HOME, with usage statistics and telemetry off. The workspace is marked
 * trusted (GEMINI_CLI_TRUST_WORKSPACE): untrusted folders force approval mode back to `default`.
 *
 * Each stream-json line becomes an AEP event (`agent.message`, `agent.tool_call`,
 * `agent.tool_result`, `agent.usage`); the `result` line decides driver_result.json.
 * Importing this module runs it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterPrompt, clip, modelOf, runAgentCli, startAdapter } from './adapter-support.js';

const start = startAdapter('gemini-adapter', 'gemini');
const { emit, job } = start;
const home = start.env('HOME');
start.env('GOOGLE_GEMINI_BASE_URL');

const settingsDir = join(home, '.gemini');
mkdirSync(settingsDir, { recursive: true });
writeFileSync(
  join(settingsDir, 'settings.json'),
  JSON.stringify({
    security: { auth: { selectedType: 'gemini-api-key' } },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
  }),
);

const model = modelOf(job);
const args = [
  '-p',
  adapterPrompt(job),
  '--output-format',
  'stream-json',
  '--approval-mode',
  'auto_edit',
  ...(model === undefined ? [] : ['--model', model]),
];

/** Assistant text arrives in deltas; it is one message until the next tool call or the end. */
let pendingText = '';
let lastMessage = '';
let result: { failed: boolean; error: string | null; tokensIn: number; tokensOut: number } | null =
  null;

function flushText(): void {
  if (pendingText.trim() === '') return;
  lastMessage = pendingText;
  emit('agent.message', pendingText, { role: 'assistant' });
  pendingText = '';
}

type Json = Record<string, unknown>;
const numberAt = (value: Json, key: string): number =>
  typeof value[key] === 'number' ? (value[key] as number) : 0;

function onLine(line: string): void {
  let event: Json;
  try {
    event = JSON.parse(line) as Json;
  } catch {
    return;
  }
  switch (event.type) {
    case 'message':
      if (event.role === 'assistant' && typeof event.content === 'string') {
        pendingText += event.content;
      }
      break;
    case 'tool_use':
      flushText();
      emit('agent.tool_call', String(event.tool_name), {
        id: event.tool_id,
        name: event.tool_name,
        input: event.parameters,
      });
      break;
    case 'tool_result': {
      const error = event.error as { message?: unknown } | undefined;
      emit('agent.tool_result', undefined, {
        id: event.tool_id,
        isError: event.status === 'error',
        output: clip(String(event.output ?? error?.message ?? '')),
      });
      break;
    }
    case 'error':
      flushText();
      emit('agent.message', String(event.message ?? 'error'), { role: 'error' });
      break;
    case 'result': {
      flushText();
      const stats = (event.stats ?? {}) as Json;
      const error = event.error as { message?: unknown } | undefined;
      result = {
        failed: event.status !== 'success',
        error: error === undefined ? null : String(error.message ?? 'error'),
        tokensIn: numberAt(stats, 'input_tokens'),
        tokensOut: numberAt(stats, 'output_tokens'),
      };
      emit('agent.usage', undefined, {
        tokensIn: result.tokensIn,
        tokensOut: result.tokensOut,
        cachedTokensIn: numberAt(stats, 'cached'),
        toolCalls: numberAt(stats, 'tool_calls'),
      });
      break;
    }
    default:
      break;
  }
}

runAgentCli(start, {
  args,
  env: { GEMINI_CLI_TRUST_WORKSPACE: 'true', NO_COLOR: '1' },
  onLine,
  outcome: () => {
    flushText();
    const done = result as typeof result;
    return {
      // No `result` line means the CLI stopped before it finished its turn.
      failed: done === null || done.failed,
      summary: done?.error ?? lastMessage,
      tokensIn: done?.tokensIn ?? 0,
      tokensOut: done?.tokensOut ?? 0,
    };
  },
});
