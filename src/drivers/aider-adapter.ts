/**
 * The Aider driver. It runs INSIDE the sandbox as the agent process (like mock-agent.ts):
 *
 *   node aider-adapter.js
 *
 * It reads the AEP job and starts Aider's documented scripting mode in the workspace:
 *
 *   aider --message <prompt> --yes-always --no-git --no-auto-commits
 *         --no-suggest-shell-commands --no-auto-lint --no-auto-test --no-pretty --no-stream
 *         --no-check-update --analytics-disable --model openai/<model>
 *         --openai-api-base <gateway>/v1
 *
 * With shell-command suggestions, auto-lint and auto-test off, `--yes-always` answers the
 * questions an edit raises (create this file?), which is the narrowest mode that lets Aider
 * work unattended; a repository's own Aider configuration can still widen it, which is why
 * its manifest requires the AAS sandbox. `--no-git` keeps it out of the checkout's
 * history: AAS collects the change itself. Its model calls go to the gateway's OpenAI-compatible
 * endpoint with the placeholder key (OPENAI_API_KEY).
 *
 * Aider prints text, not events, so its documented output lines are read: `Applied edit to F`
 * becomes a tool call and result, `Tokens: N sent, M received.` becomes `agent.usage`, and
 * everything else the model said is one `agent.message` per reply. Importing this module runs it.
 */
import { adapterPrompt, modelOf, runAgentCli, startAdapter } from './adapter-support.js';

const start = startAdapter('aider-adapter', 'aider');
const { emit, job } = start;
const baseUrl = start.env('OPENAI_BASE_URL');

/** Aider's litellm routes `openai/<name>` to the OpenAI-compatible base URL as `<name>`. */
const model = modelOf(job) ?? 'gpt-5';
const args = [
  '--message',
  adapterPrompt(job),
  '--yes-always',
  '--no-git',
  '--no-auto-commits',
  '--no-suggest-shell-commands',
  // A repository's .aider.conf.yml may name lint and test commands; none run unasked.
  '--no-auto-lint',
  '--no-auto-test',
  '--no-pretty',
  '--no-stream',
  '--no-check-update',
  '--analytics-disable',
  '--no-show-model-warnings',
  '--model',
  model.startsWith('openai/') ? model : `openai/${model}`,
  '--openai-api-base',
  baseUrl,
];

const APPLIED = /^Applied edit to (.+)$/;
const NOT_APPLIED = /^(?:Did not apply edit to (.+?)|Failed to apply edit to (.+?))(?: \(.*\))?:?$/;
const TOKENS = /^Tokens: ([\d.]+k?) sent(?:, [\d.]+k? cache \w+)*, ([\d.]+k?) received/;
const API_ERROR = /^litellm\.\w+Error:/;

/** `2.1k` → 2100: Aider shortens counts above a thousand. */
function tokenCount(text: string): number {
  return text.endsWith('k') ? Math.round(Number(text.slice(0, -1)) * 1000) : Number(text);
}

let reply: string[] = [];
let lastMessage = '';
let apiError: string | null = null;
let editNumber = 0;
const totals = { tokensIn: 0, tokensOut: 0 };

function flushReply(): void {
  const text = reply.join('\n').trim();
  reply = [];
  if (text === '') return;
  lastMessage = text;
  emit('agent.message', text, { role: 'assistant' });
}

function onLine(line: string): void {
  const applied = APPLIED.exec(line);
  const notApplied = NOT_APPLIED.exec(line);
  const tokens = TOKENS.exec(line);
  if (applied !== null || notApplied !== null) {
    flushReply();
    editNumber += 1;
    const path = applied?.[1] ?? notApplied?.[1] ?? notApplied?.[2] ?? '';
    const id = `edit-${editNumber}`;
    emit('agent.tool_call', `edit ${path}`, { id, name: 'edit', input: { path } });
    emit('agent.tool_result', undefined, { id, isError: applied === null, output: line });
  } else if (tokens?.[1] !== undefined && tokens[2] !== undefined) {
    flushReply();
    const tokensIn = tokenCount(tokens[1]);
    const tokensOut = tokenCount(tokens[2]);
    totals.tokensIn += tokensIn;
    totals.tokensOut += tokensOut;
    emit('agent.usage', undefined, { tokensIn, tokensOut });
  } else if (API_ERROR.test(line)) {
    flushReply();
    apiError = line;
    emit('agent.message', line, { role: 'error' });
  } else {
    reply.push(line);
  }
}

runAgentCli(start, {
  args,
  env: { OPENAI_API_BASE: baseUrl },
  onLine,
  outcome: () => {
    flushReply();
    // Aider reports a model it could not reach and exits 0; that is not a finished task.
    return {
      ...(apiError === null ? {} : { failed: true }),
      summary: apiError ?? lastMessage,
      tokensIn: totals.tokensIn,
      tokensOut: totals.tokensOut,
    };
  },
});
