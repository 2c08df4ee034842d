#!/usr/bin/env node
import { userInfo } from 'node:os';
import { normaliseError } from '../kernel/index.js';
import { runCli } from './program.js';

// The composition root of the command: the only place that reads the process environment.
const controller = new AbortController();

// `aas sessions events ID | head` closes the pipe early: that is the reader's choice, not an error.
// A local `aas run` (or `aas demo`) is this process's own run: leaving at once would leave it
// `running` until its lease expires, so it is stopped as on Ctrl-C (recorded cancelled) first.
let pipeClosed = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    if (pipeClosed) return;
    pipeClosed = true;
    if (!runsHere(process.argv.slice(2), process.env.AAS_SERVER)) {
      process.exit(process.exitCode ?? 0);
    }
    controller.abort();
  });
}
let interrupts = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(
      `\n${signal}: stopping (${stoppingWhat(process.argv.slice(2), process.env.AAS_SERVER)}; repeat to force quit)\n`,
    );
    controller.abort();
  });
}

/** Options that take a value (program.ts, and `aas worker`'s): their value is not a command word. */
const VALUE_OPTIONS = new Set([
  '--home',
  '--database-url',
  '--log-level',
  '--server',
  '--token',
  '--concurrency',
]);

/** The command and subcommand words of `args`, skipping options and their values. */
function commandWords(args: readonly string[]): string[] {
  const words: string[] = [];
  for (let index = 0; index < args.length && words.length < 2; index += 1) {
    const arg = args[index] ?? '';
    if (VALUE_OPTIONS.has(arg)) index += 1;
    else if (!arg.startsWith('-')) words.push(arg);
  }
  return words;
}

/** What a first Ctrl-C or SIGTERM does, for the command being run. */
function stoppingWhat(args: readonly string[], serverFromEnv: string | undefined): string {
  const [command, subcommand] = commandWords(args);
  if (command === 'start') return 'the server drains its workers, then closes';
  if (command === 'worker' && subcommand === undefined) {
    return 'this worker finishes the runs it holds and claims no more';
  }
  if (command === 'demo') return 'the demo run is recorded as cancelled';
  if (command === 'run') {
    return onServer(args, serverFromEnv)
      ? 'the server is asked to cancel the run, which is followed until it ends'
      : 'a local run is recorded as cancelled';
  }
  return 'finishing what is under way';
}

/** Whether the command runs a job in this process (a local `aas run`, `aas demo`). */
function runsHere(args: readonly string[], serverFromEnv: string | undefined): boolean {
  const [command] = commandWords(args);
  return command === 'demo' || (command === 'run' && !onServer(args, serverFromEnv));
}

function onServer(args: readonly string[], serverFromEnv: string | undefined): boolean {
  return (
    args.some((arg) => arg === '--server' || arg.startsWith('--server=')) ||
    (serverFromEnv ?? '').trim() !== ''
  );
}

/** The requester identity. Containers may run as a uid with no passwd entry: use the uid then. */
function currentUser(): string {
  try {
    return `user:${userInfo().username}`;
  } catch {
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

try {
  const code = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    nodePath: process.execPath,
    user: currentUser(),
    signal: controller.signal,
  });
  process.exitCode = code;
} catch (thrown) {
  const error = normaliseError(thrown);
  process.stderr.write(`error [${error.code}]: ${error.describe()}\n${error.stack ?? ''}\n`);
  process.exitCode = 1;
}
