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
import { adapterPrompt, clip, modelOf, runAgentCli, startAdapter } from './adapter-support.js';

const start = startAdapter('claude-code-adapter', 'claude');
const { emit, job } = start;

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

runAgentCli(start, {
  args,
  onLine,
  outcome: () => {
    const done = final as Final | null;
    return {
      // No `result` line means Claude Code stopped before it finished its turn.
      failed: done === null || done.isError,
      ...(done === null
        ? {}
        : {
            summary: done.text,
            tokensIn: done.tokensIn,
            tokensOut: done.tokensOut,
            costUsd: done.costUsd,
          }),
    };
  },
});
