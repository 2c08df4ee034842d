import { Parser } from 'yaml';
import { normaliseError } from './errors.js';
import type { TextPosition } from './yaml-position.js';

/** A quoted scalar of the parser's concrete syntax tree: where it starts and what it spans. */
interface QuotedToken {
  readonly offset: number;
  readonly source: string;
}

function isQuotedToken(value: unknown): value is QuotedToken & { readonly type: string } {
  if (typeof value !== 'object' || value === null) return false;
  const { type, offset, source } = value as Record<string, unknown>;
  return (
    (type === 'double-quoted-scalar' || type === 'single-quoted-scalar') &&
    typeof offset === 'number' &&
    typeof source === 'string'
  );
}

/** Every quoted scalar under `node`, in any nesting of the syntax tree. */
function collectQuoted(node: unknown, into: QuotedToken[], depth = 0): void {
  // The tree nests as deep as the document does; a hostile file must not exhaust the stack.
  if (depth > 200 || typeof node !== 'object' || node === null) return;
  if (isQuotedToken(node)) {
    into.push(node);
    return;
  }
  for (const child of Array.isArray(node) ? node : Object.values(node)) {
    collectQuoted(child, into, depth + 1);
  }
}

/** Where an unclosed quote opened, and which quote it is. */
export interface UnclosedQuote extends TextPosition {
  readonly quote: '"' | "'";
}

/**
 * Where the quote opened that a "missing closing quote" error at `errorOffset` is about. A
 * quoted scalar may span lines, so the parser takes everything up to the end of the text as
 * its value and reports where it gave up (an unclosed quote on line 1 of a job file is reported
 * at line 4); what the author needs is the line where the quote began. Null when no quoted
 * scalar of `text` runs to that offset.
 */
export function unclosedQuoteStart(text: string, errorOffset: number): UnclosedQuote | null {
  const quoted: QuotedToken[] = [];
  for (const token of new Parser().parse(text)) collectQuoted(token, quoted);
  const open = quoted.find(
    (token) => token.offset < errorOffset && token.offset + token.source.length >= errorOffset,
  );
  if (open === undefined) return null;
  return { ...positionOf(text, open.offset), quote: open.source.startsWith("'") ? "'" : '"' };
}

/**
 * The parser's message for a YAML error, unchanged, except that a missing closing quote names
 * where the quote opened instead of only where the parser gave up. `error` is the `yaml`
 * library's error (`code`, `pos`, `message`).
 */
export function yamlErrorMessage(
  text: string,
  error: { readonly code: string; readonly pos: readonly number[]; readonly message: string },
): string {
  const at = error.pos[0];
  if (error.code !== 'MISSING_CHAR' || !/quote/.test(error.message) || at === undefined) {
    return error.message;
  }
  const open = unclosedQuoteStart(text, at);
  if (open === null) return error.message;
  const gaveUp = positionOf(text, at);
  return `the quote (${open.quote}) opened at line ${open.line}, column ${open.column} is never closed: the parser read on to line ${gaveUp.line}, column ${gaveUp.column} looking for its end`;
}

function positionOf(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

/**
 * What went wrong parsing `text`, for a `catch` around the `yaml` library's `parse`: its error
 * as yamlErrorMessage words it, anything else (a JSON error, an alias limit) by its message.
 */
export function yamlFailureMessage(text: string, thrown: unknown): string {
  if (typeof thrown === 'object' && thrown !== null) {
    const { code, pos, message } = thrown as Record<string, unknown>;
    if (
      typeof code === 'string' &&
      Array.isArray(pos) &&
      pos.every((offset) => typeof offset === 'number') &&
      typeof message === 'string'
    ) {
      return yamlErrorMessage(text, { code, pos, message });
    }
  }
  return normaliseError(thrown).message;
}
