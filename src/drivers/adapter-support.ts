/**
 * What the in-sandbox driver adapters (`*-adapter.ts`) share: they run as the agent process,
 * so they read the AEP variables from their own environment, append events to the AEP event
 * log, build the prompt the same way, and run their CLI the same way (`runAgentCli`).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const MAX_TEXT = 4_000;

export interface AdapterJob {
  readonly task: string;
  readonly feedback?: readonly { readonly gate: string; readonly detail: string }[];
  readonly policySummary?: string;
  readonly input?: { readonly model?: unknown } | null;
}

/** An AEP variable the runner always sets; its absence means the adapter was not started by AAS. */
export function requiredEnv(adapter: string, name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`${adapter}: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

export function readAdapterJob(adapter: string): AdapterJob {
  return JSON.parse(readFileSync(requiredEnv(adapter, 'AEP_JOB_SPEC'), 'utf8')) as AdapterJob;
}

/** The model the job asks for (`agentInput.model`), if any. */
export function modelOf(job: AdapterJob): string | undefined {
  return typeof job.input?.model === 'string' ? job.input.model : undefined;
}

export function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

/** Appends one event line to the AEP event log. */
export function emitter(eventLog: string) {
  return (type: string, message: string | undefined, data: unknown): void => {
    appendFileSync(
      eventLog,
      `${JSON.stringify({ type, ...(message ? { message: clip(message) } : {}), data })}\n`,
    );
  };
}

/** The task, what the gates said about the previous attempt, and the policy in words. */
export function adapterPrompt(job: AdapterJob): string {
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

export type Emit = ReturnType<typeof emitter>;

/** What an adapter's CLI reported by the time it exited, for driver_result.json. */
export interface CliOutcome {
  /** The CLI's own verdict when it gave one (a `result` line); otherwise the exit code decides. */
  readonly failed?: boolean;
  readonly summary?: string;
  readonly tokensIn?: number;
  readonly tokensOut?: number;
  readonly costUsd?: number;
}

export interface AgentCliRun {
  /** The adapter's name, for messages. */
  readonly adapter: string;
  readonly emit: Emit;
  readonly resultPath: string;
  readonly bin: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called with each line the CLI writes to stdout. */
  readonly onLine: (line: string) => void;
  /** Read once the CLI exited. */
  readonly outcome: () => CliOutcome;
  /** How the CLI prints its version; `--version` by default. */
  readonly versionArgs?: readonly string[];
}

/** The agent binary the manifest names (`AAS_AGENT_BIN`), or its usual command name. */
export function agentBin(command: string): string {
  const configured = process.env.AAS_AGENT_BIN;
  return configured === undefined || configured === '' ? command : configured;
}

/**
 * Records which version of the CLI runs this attempt (`agent.version`), asked of the very
 * binary that runs, alongside the real run so it adds no time to it.
 */
function reportVersion(run: AgentCliRun): Promise<void> {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(run.bin, [...(run.versionArgs ?? ['--version'])], {
      cwd: run.cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, ...run.env },
      timeout: 30_000,
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (out.length < 1_000) out += chunk.toString('utf8');
    });
    const done = (version: string | null): void => {
      run.emit('agent.version', version ?? 'unknown', {
        binary: run.bin,
        version: version ?? 'unknown',
      });
      resolve();
    };
    child.on('error', () => done(null));
    child.on('close', (code) => {
      const line = out.trim().split('\n')[0]?.trim() ?? '';
      done(code === 0 && line !== '' ? line.slice(0, 200) : null);
    });
  });
}

function writeResult(path: string, result: Record<string, unknown>): void {
  writeFileSync(path, JSON.stringify(result));
}

/**
 * Runs the agent's CLI in the workspace, feeds its stdout to `onLine`, and maps its exit to
 * driver_result.json: exit 0 and no failure reported is `succeeded`; anything else `failed`
 * with `retry` recommended. The adapter exits with the CLI's code once both are written.
 */
export function runAgentCli(run: AgentCliRun): void {
  const started = Date.now();
  const version = reportVersion(run);
  const child = spawn(run.bin, [...run.args], {
    cwd: run.cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...run.env },
  });
  child.on('error', (error) => {
    writeResult(run.resultPath, {
      status: 'failed',
      summary: `${run.adapter}: cannot start ${run.bin}`,
      error: error.message,
      recommendedAction: 'reject',
    });
    void version.then(() => process.exit(1));
  });
  createInterface({ input: child.stdout }).on('line', run.onLine);
  child.on('close', (code, signal) => {
    const outcome = run.outcome();
    const ok = code === 0 && outcome.failed !== true;
    const exited = signal === null ? `exited with ${code}` : `was killed by ${signal}`;
    writeResult(run.resultPath, {
      status: ok ? 'succeeded' : 'failed',
      summary: clip(outcome.summary || (ok ? 'done' : `${run.bin} ${exited}`)),
      recommendedAction: ok ? 'promote' : 'retry',
      metrics: {
        tokensIn: outcome.tokensIn ?? 0,
        tokensOut: outcome.tokensOut ?? 0,
        ...(outcome.costUsd === undefined ? {} : { costUsd: outcome.costUsd }),
        durationMs: Date.now() - started,
      },
    });
    void version.then(() => process.exit(ok ? 0 : (code ?? 1) || 1));
  });
}
