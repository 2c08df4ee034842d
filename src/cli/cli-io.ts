import type { Writable } from 'node:stream';
import { type ExitCode, exitCodeFor, normaliseError } from '../kernel/index.js';
import { terminalSafe } from './terminal-safe.js';

/** Everything a command touches outside itself, so tests and the real binary share one path. */
export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly nodePath: string;
  /** Who is asking, as recorded in `requestedBy` (e.g. `user:alice`). */
  readonly user: string;
  /** Cancels in-flight work (SIGINT/SIGTERM in the real binary). */
  readonly signal: AbortSignal;
}

/** Every line the CLI prints goes through here, so no control character reaches a terminal raw. */
export function println(stream: Writable, text = ''): void {
  stream.write(`${terminalSafe(text)}\n`);
}

/** Prints an error the way every command does and returns the exit code from the one table. */
export function reportError(io: CliIo, thrown: unknown, json: boolean): ExitCode {
  const error = normaliseError(thrown);
  if (json) {
    println(io.stdout, JSON.stringify({ ok: false, error: error.toJSON() }));
  } else {
    println(io.stderr, `error [${error.code}]: ${error.describe()}`);
    if (error.code === 'INTERNAL' && error.cause instanceof Error && error.cause.stack) {
      println(io.stderr, error.cause.stack);
    }
  }
  return exitCodeFor(error.code);
}
