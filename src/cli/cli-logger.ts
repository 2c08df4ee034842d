import type { Writable } from 'node:stream';
import type { LogLevel } from '../config/index.js';
import type { Logger } from '../kernel/index.js';
import { println } from './cli-io.js';

const RANK = {
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  silent: Number.POSITIVE_INFINITY,
} as const;
type Level = Exclude<LogLevel, 'silent'>;
const LABEL: Record<Level, string> = {
  debug: 'debug',
  info: 'note',
  warn: 'warning',
  error: 'error',
};
/** Items of a list field shown before "and N more": a recovery may list hundreds of run ids. */
const MAX_LISTED = 5;

/**
 * The log of a one-shot command, for a person at a terminal: `warning: <message> (field: value,
 * …)` on stderr, where the server and the worker, which run unattended, write pino's JSON lines
 * for a log collector. What a command logs is what it found on the way (runs it recovered, a
 * workspace it could not remove), never its answer, which goes to stdout.
 */
export function cliLogger(
  stream: Writable,
  level: LogLevel,
  bindings: Readonly<Record<string, unknown>> = {},
): Logger {
  const write =
    (at: Level) =>
    (fields: object, message?: string): void => {
      if (RANK[at] < RANK[level]) return;
      const shown = describeFields({ ...fields, ...bindings });
      const text = message ?? '';
      println(stream, `${LABEL[at]}: ${text}${shown === '' ? '' : ` (${shown})`}`);
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => cliLogger(stream, level, { ...bindings, ...more }),
  };
}

function describeFields(fields: Readonly<Record<string, unknown>>): string {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}: ${describeValue(value)}`)
    .join(', ');
}

function describeValue(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (Array.isArray(value)) {
    const listed = value.slice(0, MAX_LISTED).map(describeValue).join(' ');
    const more = value.length > MAX_LISTED ? ` and ${value.length - MAX_LISTED} more` : '';
    return value.length === 0 ? 'none' : `${listed}${more}`;
  }
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // A circular object, a BigInt: a log line must never throw where a failure is handled.
    return String(value);
  }
}
