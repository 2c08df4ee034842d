/**
 * The Claude Code driver. It runs INSIDE the sandbox as the agent process (like mock-agent.ts):
 *
 *   node claude-code-adapter.js
 *
 * It reads the AEP job, starts `claude -p <prompt> --output-format stream-json --verbose
 * --permission-mode acceptEdits` in the workspace, turns each line of its stream into an AEP
 * event (`agent.message`, `agent.tool_call`, `agent.tool_result`, `agent.usage`), and writes
 * driver_result.json from the final `result` line. `acceptEdits` is the narrowest mode in which
 * Claude Code edits files without asking; commands it would need approval for are refused by
 * Claude Code itself, and everything else is bounded by the sandbox, not by this choice.
 *
 * The model is reached through AAS's gateway: ANTHROPIC_BASE_URL and a placeholder
 * ANTHROPIC_API_KEY are in the environment the runner built. Importing this module runs it.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  adapterPrompt,
  clip,
  emitter,
  modelOf,
  readAdapterJob,
  requiredEnv,
} from './adapter-support.js';

const emit = emitter(requiredEnv('claude-code-adapter', 'AEP_EVENT_LOG'));
const resultPath = requiredEnv('claude-code-adapter', 'AEP_RESULT_PATH');
const workspace = requiredEnv('claude-code-adapter', 'AEP_WORKSPACE');
const job = readAdapterJob('claude-code-adapter');
const claude = process.env.AAS_CLAUDE_BIN || 'claude';

const model = modelOf(job);
const args = [
  '-p',
  adapterPrompt(job),
  '--output-format',
  'stream-json',
  '--verbose',
  '--permission-mode',
  'acceptEdits',
  ...(model === undefined ? [] : ['--model', model]),
];

interface Final {
  isError: boolean;
  text: string;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}
let final: Final | null = null;

function onLine(line: string): void {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const content = (message.message as { content?: unknown } | undefined)?.content;
  const blocks = Array.isArray(content) ? (content as Record<string, unknown>[]) : [];
  switch (message.type) {
    case 'assistant':
      for (const block of blocks) {
        if (block.type === 'text' && typeof block.text === 'string') {
          emit('agent.message', block.text, { role: 'assistant' });
        } else if (block.type === 'tool_use') {
          emit('agent.tool_call', String(block.name), {
            id: block.id,
            name: block.name,
            input: block.input,
          });
        }
      }
      break;
    case 'user':
      for (const block of blocks) {
        if (block.type === 'tool_result') {
          const text =
            typeof block.content === 'string' ? block.content : JSON.stringify(block.content);
          emit('agent.tool_result', undefined, {
            id: block.tool_use_id,
            isError: block.is_error === true,
            output: clip(text ?? ''),
          });
        }
      }
      break;
    case 'result': {
      const usage = (message.usage ?? {}) as Record<string, number | undefined>;
      const tokensIn =
        (usage.input_tokens ?? 0) +
        (usage.cache_read_input_tokens ?? 0) +
        (usage.cache_creation_input_tokens ?? 0);
      final = {
        isError: message.is_error === true || message.subtype !== 'success',
        text: typeof message.result === 'string' ? message.result : String(message.subtype ?? ''),
        tokensIn,
        tokensOut: usage.output_tokens ?? 0,
        costUsd: typeof message.total_cost_usd === 'number' ? message.total_cost_usd : 0,
      };
      emit('agent.usage', undefined, {
        tokensIn,
        tokensOut: final.tokensOut,
        reportedCostUsd: final.costUsd,
        turns: message.num_turns,
      });
      break;
    }
    default:
      break;
  }
}

const started = Date.now();
const child = spawn(claude, args, { cwd: workspace, stdio: ['ignore', 'pipe', 'inherit'] });
child.on('error', (error) => {
  writeFileSync(
    resultPath,
    JSON.stringify({ status: 'failed', summary: `cannot start ${claude}`, error: error.message }),
  );
  process.exit(1);
});
createInterface({ input: child.stdout }).on('line', onLine);
child.on('close', (code) => {
  const done = final as Final | null;
  const ok = code === 0 && done !== null && !done.isError;
  writeFileSync(
    resultPath,
    JSON.stringify({
      status: ok ? 'succeeded' : 'failed',
      summary: clip(done?.text || (ok ? 'done' : `claude exited with ${code}`)),
      recommendedAction: ok ? 'promote' : 'retry',
      metrics: {
        tokensIn: done?.tokensIn ?? 0,
        tokensOut: done?.tokensOut ?? 0,
        costUsd: done?.costUsd ?? 0,
        durationMs: Date.now() - started,
      },
    }),
  );
  process.exit(code ?? 1);
});
