import { LineCounter, parseDocument } from 'yaml';
import {
  AasError,
  locateInYaml,
  positionAt,
  type TextPosition,
  unclosedQuoteStart,
  yamlErrorMessage,
} from '../kernel/index.js';
import { firstPolicyIssue } from './policy-issue.js';
import { type PolicyLayer, PolicyLayerSchema } from './policy-layer-schema.js';

const at = (position: TextPosition | null) =>
  position ? ` at line ${position.line}, column ${position.column}` : '';

function syntaxError(
  file: string,
  message: string,
  position: TextPosition | null,
  format: string,
): AasError {
  return new AasError('POLICY_INVALID', `${format} syntax error${at(position)}: ${message}`, {
    file,
    hint:
      format === 'JSON'
        ? 'fix the JSON syntax (no trailing commas, double-quoted keys), or write the layer as YAML'
        : 'fix the YAML syntax (indent with spaces; quote values that contain ": " or start with * & ! %)',
    ...(position ? { line: position.line, column: position.column } : {}),
  });
}

/** The parser's own words, except where they would mislead someone editing a policy file. */
function yamlMessage(code: string, message: string): string {
  switch (code) {
    case 'MULTIPLE_DOCS':
      return 'the file holds more than one document (---); a policy layer is a single document';
    case 'DUPLICATE_KEY':
      return 'duplicate key; each key may appear once (a repeated key would silently replace the first)';
    default:
      return message;
  }
}

/** Offset → position for JSON.parse messages, which carry only a character position, if any. */
function jsonPosition(message: string, text: string): TextPosition | null {
  const match = /position (\d+)/.exec(message);
  if (!match) return null;
  const offset = Number(match[1]);
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

/**
 * Parse one policy layer from YAML or JSON text. JSON files go through the YAML parser with the
 * JSON schema (exact line:column for syntax errors and duplicate keys, which JSON.parse would
 * silently let the last one win) and then through JSON.parse, so YAML-only syntax in a `.json`
 * file is still an error. An empty file is an empty layer: it constrains nothing.
 */
export function parsePolicyLayer(text: string, source: { file: string }): PolicyLayer {
  const { file } = source;
  // Editors on some platforms write a byte-order mark, which JSON.parse would reject.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const isJson = file.toLowerCase().endsWith('.json');
  const format = isJson ? 'JSON' : 'YAML';
  const lines = new LineCounter();
  const doc = parseDocument(body, {
    lineCounter: lines,
    prettyErrors: false,
    schema: isJson ? 'json' : 'core',
    uniqueKeys: true,
  });
  const first = doc.errors[0];
  if (first) {
    // An unclosed quote is located where it opened: the parser gives up only where the text ends.
    const open = first.code === 'MISSING_CHAR' ? unclosedQuoteStart(body, first.pos[0]) : null;
    throw syntaxError(
      file,
      yamlMessage(first.code, yamlErrorMessage(body, first)),
      open ?? positionAt(lines, first.pos[0]),
      format,
    );
  }

  let data: unknown;
  if (isJson && body.trim() !== '') {
    try {
      data = JSON.parse(body);
    } catch (thrown) {
      const message = thrown instanceof Error ? thrown.message : String(thrown);
      throw syntaxError(file, message, jsonPosition(message, body), format);
    }
  } else {
    try {
      // Aliases are legitimate YAML, but a bounded count keeps "billion laughs" out.
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (thrown) {
      throw syntaxError(
        file,
        thrown instanceof Error ? thrown.message : String(thrown),
        null,
        format,
      );
    }
  }
  if (data === null || data === undefined) return {};

  const parsed = PolicyLayerSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = firstPolicyIssue(parsed.error, data);
  const position = positionAt(lines, locateInYaml(doc, issue.path, issue.atKey).offset);
  // The field travels in details (describe() prints it before the message), so it is not repeated here.
  throw new AasError('POLICY_INVALID', `${issue.message}${at(position)}`, {
    file,
    field: issue.field,
    hint: issue.hint,
    ...(position ? { line: position.line, column: position.column } : {}),
  });
}

/**
 * Validate a policy layer that arrived already parsed, embedded in another document (an agent
 * manifest's `policy:` block, a job's `policy:`). Errors use the given code and name the field
 * with its prefix, so a person sees e.g. `agents/narrow.yaml: policy.paths.alow`.
 */
export function validatePolicyLayer(
  value: unknown,
  source: {
    /** The document's file; a job submitted over the API has none. */
    file?: string;
    fieldPrefix: string;
    code: 'POLICY_INVALID' | 'MANIFEST_INVALID' | 'JOB_INVALID';
  },
): PolicyLayer {
  if (value === null || value === undefined) return {};
  const parsed = PolicyLayerSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = firstPolicyIssue(parsed.error, value);
  throw new AasError(source.code, issue.message, {
    ...(source.file === undefined ? {} : { file: source.file }),
    field: issue.field ? `${source.fieldPrefix}.${issue.field}` : source.fieldPrefix,
    hint: issue.hint,
  });
}
