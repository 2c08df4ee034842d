import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { CLI_PATH } from './run-cli.js';

/** A real `aas start` process on an ephemeral port. */
export interface ServerProcess {
  readonly url: string;
  readonly token: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  readonly exited: Promise<number | null>;
  /** `fetch` against the server with the admin token. */
  api(path: string, init?: RequestInit): Promise<Response>;
}

export function newBootstrapToken(): string {
  return `aas_${randomBytes(32).toString('base64url')}`;
}

/**
 * Starts `aas start --port 0` and waits for its "listening" line. `token` becomes the bootstrap
 * admin token of an empty database (and is simply used on a database that has it already).
 */
export async function startServerProcess(options: {
  home: string;
  token: string;
  env?: NodeJS.ProcessEnv;
  args?: readonly string[];
}): Promise<ServerProcess> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  const child = spawn(
    process.execPath,
    [CLI_PATH, 'start', '--port', '0', ...(options.args ?? [])],
    {
      cwd: options.home,
      env: {
        ...process.env,
        AAS_HOME: options.home,
        AAS_LOG_LEVEL: 'warn',
        AAS_BOOTSTRAP_TOKEN: options.token,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /AAS listening on (http:\/\/\S+?) /.exec(stdout);
      if (match?.[1]) {
        child.stdout?.off('data', check);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    exited.then((code) =>
      reject(new Error(`aas start exited with ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`)),
    );
  });
  return {
    url,
    token: options.token,
    child,
    output: () => ({ stdout, stderr }),
    exited,
    api: (path, init = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${options.token}`,
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.headers as Record<string, string> | undefined),
        },
      }),
  };
}

/**
 * Polls `probe` until it returns a value other than undefined. The deadline only stops a broken
 * build from hanging the suite; nothing asserts how fast the server is. `context` is asked for
 * what to show when it gives up (the processes' output, say), so that a rare failure can be
 * understood from the log alone.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { deadlineMs?: number; everyMs?: number; context?: () => Promise<string> | string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.deadlineMs ?? 180_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const context = options.context === undefined ? '' : await describeContext(options.context);
      throw new Error(`gave up waiting for ${what}${context === '' ? '' : `\n${context}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 100));
  }
}

async function describeContext(context: () => Promise<string> | string): Promise<string> {
  try {
    return await context();
  } catch (error) {
    return `(the context could not be read: ${error instanceof Error ? error.message : String(error)})`;
  }
}

/** The last `maxChars` of a process's output, labelled, for a failure message. */
export function outputTail(
  name: string,
  output: { stdout: string; stderr: string },
  maxChars = 4_000,
): string {
  const tail = (text: string) => (text.length > maxChars ? `…${text.slice(-maxChars)}` : text);
  return `--- ${name} stdout:\n${tail(output.stdout)}\n--- ${name} stderr:\n${tail(output.stderr)}`;
}
