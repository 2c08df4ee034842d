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
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const MAX_TEXT = 4_000;

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`codex-adapter: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

const eventLog = required('AEP_EVENT_LOG');
const resultPath = required('AEP_RESULT_PATH');
const workspace = required('AEP_WORKSPACE');
const baseUrl = required('OPENAI_BASE_URL');
const home = required('HOME');
const job = JSON.parse(readFileSync(required('AEP_JOB_SPEC'), 'utf8')) as {
  task: string;
  feedback?: { gate: string; detail: string }[];
  policySummary?: string;
  input?: { model?: unknown } | null;
};
const codex = process.env.AAS_CODEX_BIN || 'codex';
const codexHome = join(home, '.codex');
mkdirSync(codexHome, { recursive: true });

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

function emit(type: string, message: string | undefined, data: unknown): void {
  appendFileSync(
    eventLog,
    `${JSON.stringify({ type, ...(message ? { message: clip(message) } : {}), data })}\n`,
  );
}

function prompt(): string {
  const parts = [job.task];
  if (job.feedback && job.feedback.length > 0) {
    parts.push(
      'The previous attempt was rejected. Fix these problems:',
      ...job.feedback.map((item) => `- ${item.gate}: ${item.detail}`),
    );
  }
  if (job.policySummary) parts.push(`Rules for this task: ${job.policySummary}`);
  parts.push('Edit the files in the current directory. Do not commit; your changes are collected.');
  return parts.join('\n\n');
}

const model = typeof job.input?.model === 'string' ? job.input.model : undefined;
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
  prompt(),
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

const started = Date.now();
const child = spawn(codex, args, {
  cwd: workspace,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, CODEX_HOME: codexHome },
});
child.on('error', (error) => {
  writeFileSync(
    resultPath,
    JSON.stringify({ status: 'failed', summary: `cannot start ${codex}`, error: error.message }),
  );
  process.exit(1);
});
createInterface({ input: child.stdout }).on('line', onLine);
child.on('close', (code) => {
  const ok = code === 0;
  writeFileSync(
    resultPath,
    JSON.stringify({
      status: ok ? 'succeeded' : 'failed',
      summary: clip(lastMessage || failed || (ok ? 'done' : `codex exited with ${code}`)),
      recommendedAction: ok ? 'promote' : 'retry',
      metrics: {
        tokensIn: usage.tokensIn,
        tokensOut: usage.tokensOut,
        durationMs: Date.now() - started,
      },
    }),
  );
  process.exit(code ?? 1);
});
