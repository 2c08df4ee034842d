import { spawn } from 'node:child_process';
import { AasError } from '../kernel/index.js';
import { type GitEnvOptions, gitEnv, HARDENED_GIT_CONFIG } from './git-env.js';

export interface GitInvocation {
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: GitEnvOptions;
  readonly input?: string | Uint8Array;
  /**
   * With a limit, git is killed once stdout exceeds it and the result says `stdoutOverflow`.
   * Without one, a default cap applies and overflowing it is an error.
   */
  readonly maxStdoutBytes?: number;
  /** Exit codes that are answers rather than failures (e.g. 1 from `rev-parse --verify -q`). */
  readonly okExitCodes?: readonly number[];
  /** Kill git after this long (default 10 minutes); a hung git never hangs a run. */
  readonly timeoutMs?: number;
  /** Kill git when this aborts (whoever wanted the answer went away); CANCELLED then. */
  readonly signal?: AbortSignal;
}

export interface GitResult {
  readonly exitCode: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly stdoutOverflow: boolean;
}

const DEFAULT_MAX_STDOUT = 256 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;
/**
 * Generous: a full checkout of 100,000 files took ~18 s on the reference VM. What this bounds
 * is a git blocked forever, e.g. reading a FIFO an agent planted where git expects a file.
 */
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/**
 * Runs git directly (no shell, so no argument is ever re-parsed) with the hardened config
 * overrides and an environment built from scratch. Non-zero exits not listed in `okExitCodes`
 * become `INTERNAL` errors carrying git's stderr, because each caller turns the failures it
 * expects (unknown ref, not a repository) into precise codes before they get here.
 */
export function runGit(invocation: GitInvocation): Promise<GitResult> {
  const limit = invocation.maxStdoutBytes ?? DEFAULT_MAX_STDOUT;
  const okExitCodes = invocation.okExitCodes ?? [0];
  const args = [...HARDENED_GIT_CONFIG, ...invocation.args];
  return new Promise((resolve, reject) => {
    if (invocation.signal?.aborted === true) {
      reject(stoppedBySignal(invocation.args));
      return;
    }
    const child = spawn('git', args, {
      cwd: invocation.cwd,
      env: gitEnv(invocation.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stdoutBytes = 0;
    let overflow = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, invocation.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let stopped = false;
    const onAbort = (): void => {
      stopped = true;
      child.kill('SIGKILL');
    };
    invocation.signal?.addEventListener('abort', onAbort, { once: true });
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (overflow) return;
      if (stdoutBytes + chunk.length > limit) {
        overflow = true;
        child.kill('SIGKILL');
        return;
      }
      stdoutBytes += chunk.length;
      chunks.push(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk.slice(0, MAX_STDERR - stderr.length);
    });
    // git may exit before reading all of stdin (or be killed on overflow): EPIPE is not our failure.
    child.stdin.on('error', () => {});
    child.on('error', (error) => {
      clearTimeout(timer);
      invocation.signal?.removeEventListener('abort', onAbort);
      reject(
        new AasError('INTERNAL', `cannot run git: ${error.message}`, {
          hint: `git must be installed in one of: ${invocation.env.searchPath}`,
        }),
      );
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      invocation.signal?.removeEventListener('abort', onAbort);
      // Whatever git managed before the kill, nobody is waiting for it.
      if (stopped) {
        reject(stoppedBySignal(invocation.args));
        return;
      }
      if (timedOut) {
        reject(
          gitFailure(
            invocation.args,
            `killed after ${invocation.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms without finishing`,
          ),
        );
        return;
      }
      const result: GitResult = {
        exitCode,
        stdout: Buffer.concat(chunks),
        stderr,
        stdoutOverflow: overflow,
      };
      if (overflow) {
        if (invocation.maxStdoutBytes !== undefined) resolve(result);
        else reject(gitFailure(invocation.args, `output exceeded ${limit} bytes`));
        return;
      }
      if (exitCode !== null && okExitCodes.includes(exitCode)) resolve(result);
      else reject(gitFailure(invocation.args, `exit ${exitCode ?? 'signal'}: ${stderr.trim()}`));
    });
    if (invocation.input !== undefined) child.stdin.end(invocation.input);
    else child.stdin.end();
  });
}

function stoppedBySignal(args: readonly string[]): AasError {
  return new AasError(
    'CANCELLED',
    `git ${args[0] ?? ''} was stopped: its answer is no longer wanted`,
  );
}

function gitFailure(args: readonly string[], what: string): AasError {
  const command = `git ${args.join(' ')}`;
  const shown = command.length > 200 ? `${command.slice(0, 200)}…` : command;
  return new AasError('INTERNAL', `${shown} failed (${what})`);
}

/** Splits `-z` output into fields; the trailing NUL does not produce an empty last field. */
export function splitNul(output: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  let start = 0;
  for (;;) {
    const end = output.indexOf(0, start);
    if (end === -1) break;
    fields.push(output.subarray(start, end));
    start = end + 1;
  }
  if (start < output.length) fields.push(output.subarray(start));
  return fields;
}

/** The inverse of `splitNul`, for `-z --stdin` and `--pathspec-file-nul` input. */
export function nulJoin(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.flatMap((part) => [part, Buffer.from([0])]));
}
