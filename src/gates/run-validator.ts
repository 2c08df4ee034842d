import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { type Code, isAasError } from '../kernel/index.js';
import type { Confinement, ResourceLimits, SandboxBackend } from '../sandbox/index.js';

export interface ValidatorSpec {
  readonly name: string;
  readonly command: string;
  readonly timeoutSec: number;
}

export interface ValidatorResult {
  readonly passed: boolean;
  readonly code: Code;
  readonly detail: string;
  readonly exitCode: number | null;
  readonly stdoutPath: string;
  readonly stderrPath: string;
}

const FEEDBACK_TAIL_BYTES = 4_000;

/**
 * A validator is the job's own test command. It runs in the same kind of sandbox as the agent,
 * inside the workspace, because the agent may have rewritten the test suite itself.
 */
export async function runValidator(input: {
  spec: ValidatorSpec;
  index: number;
  sandbox: SandboxBackend;
  workspaceDir: string;
  outputDir: string;
  env: Readonly<Record<string, string>>;
  confinement: Confinement;
  limits?: ResourceLimits;
  maxOutputBytes: number;
  signal?: AbortSignal;
}): Promise<ValidatorResult> {
  await mkdir(input.outputDir, { recursive: true });
  const stem = join(input.outputDir, `validator-${input.index}`);
  const stdoutPath = `${stem}.stdout.log`;
  const stderrPath = `${stem}.stderr.log`;
  const outcome = await input.sandbox.launch({
    command: '/bin/sh',
    args: ['-c', input.spec.command],
    cwd: input.workspaceDir,
    env: input.env,
    timeoutMs: input.spec.timeoutSec * 1000,
    stdoutPath,
    stderrPath,
    maxOutputBytes: input.maxOutputBytes,
    ...(input.signal ? { signal: input.signal } : {}),
    confinement: input.confinement,
    ...(input.limits === undefined ? {} : { limits: input.limits }),
  });
  const output = await tailOf([stdoutPath, stderrPath]);
  const base = { exitCode: outcome.exitCode, stdoutPath, stderrPath };
  if (outcome.spawnError !== undefined) {
    return {
      ...base,
      passed: false,
      code: 'GATE_ERROR',
      detail: `validator could not start: ${outcome.spawnError}`,
    };
  }
  if (outcome.timedOut) {
    return {
      ...base,
      passed: false,
      code: 'GATE_ERROR',
      detail: `timed out after ${input.spec.timeoutSec}s\n${output}`,
    };
  }
  if (outcome.outputLimitExceeded) {
    return {
      ...base,
      passed: false,
      code: 'GATE_ERROR',
      detail: `output exceeded ${input.maxOutputBytes} bytes`,
    };
  }
  if (outcome.limitHit !== null) {
    return {
      ...base,
      passed: false,
      code: 'GATE_ERROR',
      detail: `${outcome.limitDetail ?? `limit ${outcome.limitHit} hit`}\n${output}`.trim(),
    };
  }
  if (outcome.cancelled) {
    // Stopped for a shutdown or a lost lease (the signal's reason says): interrupted.
    const why: unknown = input.signal?.reason;
    return isAasError(why) && why.code === 'INTERRUPTED'
      ? { ...base, passed: false, code: 'INTERRUPTED', detail: `stopped: ${why.message}` }
      : { ...base, passed: false, code: 'CANCELLED', detail: 'cancelled' };
  }
  if (outcome.exitCode === 0)
    return { ...base, passed: true, code: 'GATES_PASSED', detail: `exit 0\n${output}`.trim() };
  const status =
    outcome.exitCode === null
      ? `killed by ${outcome.signal ?? 'signal'}`
      : `exit ${outcome.exitCode}`;
  return { ...base, passed: false, code: 'GATE_FAILED', detail: `${status}\n${output}`.trim() };
}

/** The last few KiB of a validator's output: what a person (or the next attempt) needs to fix it. */
async function tailOf(paths: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const path of paths) {
    try {
      const handle = await open(path, 'r');
      try {
        const { size } = await handle.stat();
        const length = Math.min(size, FEEDBACK_TAIL_BYTES);
        const buffer = Buffer.alloc(length);
        await handle.read(buffer, 0, length, size - length);
        const text = buffer.toString('utf8').trim();
        if (text) parts.push(size > length ? `…${text}` : text);
      } finally {
        await handle.close();
      }
    } catch {
      // A missing output file just means the validator printed nothing.
    }
  }
  return parts.join('\n');
}
