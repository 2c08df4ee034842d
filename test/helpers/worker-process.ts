import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CLI_PATH } from './run-cli.js';

/** A real `aas worker` process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly home: string;
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts `aas worker --server <url>` with its own AAS_HOME (and `--token <secret>` when given:
 * the first start registers) and waits until it says it started, or fails with its output.
 */
export async function startWorkerProcess(options: {
  server: string;
  home: string;
  secret?: string;
  env?: NodeJS.ProcessEnv;
  args?: readonly string[];
}): Promise<WorkerProcess> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  const child = spawn(
    process.execPath,
    [
      CLI_PATH,
      'worker',
      '--server',
      options.server,
      ...(options.secret === undefined ? [] : ['--token', options.secret]),
      ...(options.args ?? []),
    ],
    {
      cwd: options.home,
      env: {
        ...process.env,
        AAS_HOME: options.home,
        AAS_LOG_LEVEL: 'info',
        AAS_TOKEN: '',
        AAS_SERVER: '',
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
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (stderr.includes('"worker started"')) {
        child.stderr?.off('data', check);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    exited.then((code) =>
      reject(new Error(`aas worker exited with ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`)),
    );
  });
  return { child, home: options.home, output: () => ({ stdout, stderr }), exited };
}
