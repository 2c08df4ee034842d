/**
 * The Codex CLI driver. It runs INSIDE the sandbox as the agent process (like mock-agent.ts):
 *
 *   node codex-adapter.js
 *
 * It reads the AEP job and starts `codex exec --json` in the workspace, with the model provider
 * pointed at AAS's gateway (Codex ignores OPENAI_BASE_URL; a provider entry given with `-c` is
 * how it is told). Each JSON line becomes an AEP event (`agent.message`, `agent.tool_call`,
 * `agent.tool_result`, `agent.usage`) and the end of the turn becomes driver_result.json.
 *
 * `--sandbox danger-full-access` only turns off Codex's own nested sandbox, which cannot start
 * inside AAS's (no nested user namespaces): the manifest's policy layer says `sandbox:
 * required`, so Codex never runs outside an AAS sandbox. Importing this module runs it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { adapterPrompt, clip, modelOf, runAgentCli, startAdapter } from './adapter-support.js';

const start = startAdapter('codex-adapter', 'codex');
const { emit, job } = start;
const baseUrl = start.env('OPENAI_BASE_URL');
const home = start.env('HOME');
const codexHome = join(home, '.codex');
mkdirSync(codexHome, { recursive: true });

const model = modelOf(job);
const provider = `{name="AAS gateway",base_url=${JSON.stringify(baseUrl)},env_key="OPENAI_API_KEY",wire_api="responses"}`;
const args = [
  'exec',
  '--json',
  '--skip-git-repo-check',
  '--sandbox',
  'danger-full-access',
  '-c',
  'approval_policy=never',
  '-c',
  'model_provider=aas',
  '-c',
  `model_providers.aas=${provider}`,
  ...(model === undefined ? [] : ['-c', `model=${JSON.stringify(model)}`]),
  adapterPrompt(job),
];

let usage = { tokensIn: 0, tokensOut: 0 };
let lastMessage = '';
let failed: string | null = null;

function onLine(line: string): void {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const item = (event.item ?? {}) as Record<string, unknown>;
  switch (event.type) {
    case 'item.started':
      if (item.type === 'command_execution') {
        emit('agent.tool_call', String(item.command), {
          id: item.id,
          name: 'exec',
          input: item.command,
        });
      }
      break;
    case 'item.completed':
      if (item.type === 'agent_message' && typeof item.text === 'string') {
        lastMessage = item.text;
        emit('agent.message', item.text, { role: 'assistant' });
      } else if (item.type === 'command_execution') {
        emit('agent.tool_result', undefined, {
          id: item.id,
          isError: item.exit_code !== 0,
          output: clip(String(item.aggregated_output ?? '')),
        });
      } else if (item.type === 'file_change') {
        emit('agent.tool_result', undefined, {
          id: item.id,
          isError: false,
          output: 'file change',
        });
      }
      break;
    case 'turn.completed': {
      const reported = (event.usage ?? {}) as Record<string, number | undefined>;
      usage = { tokensIn: reported.input_tokens ?? 0, tokensOut: reported.output_tokens ?? 0 };
      emit('agent.usage', undefined, {
        tokensIn: usage.tokensIn,
        tokensOut: usage.tokensOut,
        cachedTokensIn: reported.cached_input_tokens ?? 0,
      });
      break;
    }
    case 'turn.failed':
    case 'error':
      failed = clip(
        String(
          (event.error as { message?: unknown } | undefined)?.message ?? event.message ?? 'error',
        ),
      );
      emit('agent.message', failed, { role: 'error' });
      break;
    default:
      break;
  }
}

runAgentCli(start, {
  args,
  env: { CODEX_HOME: codexHome },
  onLine,
  // Codex reports retried connection problems as `error` lines too; its exit code decides.
  outcome: () => ({
    summary: lastMessage || failed || '',
    tokensIn: usage.tokensIn,
    tokensOut: usage.tokensOut,
  }),
});
