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

/** What every adapter starts from: the AEP paths and job, and the binary it drives. */
export interface AdapterStart {
  /** The adapter's name, for messages. */
  readonly adapter: string;
  readonly emit: Emit;
  readonly resultPath: string;
  readonly workspace: string;
  readonly job: AdapterJob;
  /** The agent binary the manifest names (`AAS_AGENT_BIN`), or its usual command name. */
  readonly bin: string;
  /** A variable the runner sets for this agent (HOME, the gateway's URL); exit 2 without it. */
  env(name: string): string;
}

export function startAdapter(adapter: string, command: string): AdapterStart {
  return {
    adapter,
    emit: emitter(requiredEnv(adapter, 'AEP_EVENT_LOG')),
    resultPath: requiredEnv(adapter, 'AEP_RESULT_PATH'),
    workspace: requiredEnv(adapter, 'AEP_WORKSPACE'),
    job: readAdapterJob(adapter),
    bin: agentBin(command),
    env: (name) => requiredEnv(adapter, name),
  };
}

export interface AgentCliRun {
  readonly args: readonly string[];
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
 * How long the version probe may take; a run never waits longer than this for it. It runs
 * alongside the real run, so only a run that ends sooner waits at all. 5 s was too short: under
 * the full test suite on a 2-vCPU VM the Gemini CLI (a large Node program, started cold inside
 * the sandbox) took longer to print its version, and the attempt recorded `unknown`.
 */
const VERSION_PROBE_MS = 15_000;
/** After the CLI exits, how long its stdout may still drain (a leftover child may hold it open). */
const STDOUT_DRAIN_MS = 1_000;

/**
 * Records which version of the CLI runs this attempt (`agent.version`), asked of the very
 * binary that runs, alongside the real run so it adds no time to it. Resolves once the event is
 * written, or after VERSION_PROBE_MS with `unknown`: the attempt never waits on a stuck probe.
 */
function reportVersion(start: AdapterStart, run: AgentCliRun): Promise<void> {
  return new Promise((resolve) => {
    let out = '';
    let reported = false;
    const done = (version: string | null): void => {
      if (reported) return;
      reported = true;
      clearTimeout(timer);
      start.emit('agent.version', version ?? 'unknown', {
        binary: start.bin,
        version: version ?? 'unknown',
      });
      resolve();
    };
    const child = spawn(start.bin, [...(run.versionArgs ?? ['--version'])], {
      cwd: start.workspace,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, ...run.env },
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(null);
    }, VERSION_PROBE_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      if (out.length < 1_000) out += chunk.toString('utf8');
    });
    child.on('error', () => done(null));
    // `exit`, not `close`: a child the probe left behind may keep its stdout open.
    child.on('exit', (code) => {
      setImmediate(() => {
        const line = out.trim().split('\n')[0]?.trim() ?? '';
        done(code === 0 && line !== '' ? line.slice(0, 200) : null);
      });
    });
  });
}

function writeResult(path: string, result: Record<string, unknown>): void {
  writeFileSync(path, JSON.stringify(result));
}

/**
 * Runs the agent's CLI in the workspace, feeds its stdout to `onLine`, and maps its exit to
 * driver_result.json: exit 0 and no failure reported is `succeeded`; anything else `failed`
 * with `retry` recommended. The adapter exits with the CLI's code once both are written. The
 * result is written exactly once, when the CLI exits (or cannot start), even if something it
 * left behind still holds its stdout open.
 */
export function runAgentCli(start: AdapterStart, run: AgentCliRun): void {
  const started = Date.now();
  const version = reportVersion(start, run);
  let finished = false;
  const finish = (result: Record<string, unknown>, exitCode: number): void => {
    if (finished) return;
    finished = true;
    writeResult(start.resultPath, result);
    void version.then(() => process.exit(exitCode));
  };
  const child = spawn(start.bin, [...run.args], {
    cwd: start.workspace,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...run.env },
  });
  child.on('error', (error) => {
    finish(
      {
        status: 'failed',
        summary: `${start.adapter}: cannot start ${start.bin}`,
        error: error.message,
        recommendedAction: 'reject',
      },
      1,
    );
  });
  let stdoutEnded = false;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', run.onLine);
  child.stdout.once('end', () => {
    stdoutEnded = true;
  });
  child.on('exit', (code, signal) => {
    const report = (): void => {
      lines.close();
      child.stdout.destroy();
      const outcome = run.outcome();
      const ok = code === 0 && outcome.failed !== true;
      const exited = signal === null ? `exited with ${code}` : `was killed by ${signal}`;
      finish(
        {
          status: ok ? 'succeeded' : 'failed',
          summary: clip(outcome.summary || (ok ? 'done' : `${start.bin} ${exited}`)),
          recommendedAction: ok ? 'promote' : 'retry',
          metrics: {
            tokensIn: outcome.tokensIn ?? 0,
            tokensOut: outcome.tokensOut ?? 0,
            ...(outcome.costUsd === undefined ? {} : { costUsd: outcome.costUsd }),
            durationMs: Date.now() - started,
          },
        },
        ok ? 0 : (code ?? 1) || 1,
      );
    };
    // Let the last lines arrive; a leftover child holding stdout open gets STDOUT_DRAIN_MS.
    if (stdoutEnded) setImmediate(report);
    else {
      const timer = setTimeout(report, STDOUT_DRAIN_MS);
      child.stdout.once('end', () => {
        clearTimeout(timer);
        setImmediate(report);
      });
    }
  });
}
