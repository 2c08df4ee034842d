import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_PATH = join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `aas` binary as a real process (`npm test` builds before it runs the suites). */
export function runCli(
  args: readonly string[],
  options: { home: string; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd: options.cwd ?? options.home,
      env: { ...process.env, AAS_HOME: options.home, AAS_LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Parses the single JSON object a `--json` command prints. */
export function jsonOf<T = Record<string, unknown>>(result: CliResult): T {
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`expected JSON on stdout, got:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** `aas run --repo REPO --task x FLAGS…` with the data directory `home`. */
export function runJob(home: string, repo: string, flags: readonly string[]): Promise<CliResult> {
  return runCli(['run', '--repo', repo, '--task', 'x', ...flags], { home });
}
