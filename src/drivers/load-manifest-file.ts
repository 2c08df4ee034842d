import { basename, extname } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import {
  AasError,
  closestName,
  isAasError,
  withFieldPosition,
  yamlErrorMessage,
} from '../kernel/index.js';
import { type AgentManifest, AgentManifestSchema } from './agent-manifest.js';
import { readBoundedFile } from './bounded-read.js';
import { describeZodError } from './describe-zod-error.js';

/** Manifests are small; anything bigger is a mistake, not a manifest. */
const MAX_MANIFEST_BYTES = 256 * 1024;

export const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

const FORMAT_HINT =
  'a manifest needs id and entrypoint; optional: description, args, env, readOnlyPaths, policy, capabilities, modelGateway, result (file | exit-code)';

/** A check of a loaded manifest beyond its own schema (its policy layer, say): throws AasError. */
export type ManifestCheck = (manifest: AgentManifest, file: string) => void;

/**
 * Loads and validates one manifest file (`<id>.yaml`, `<id>.yml` or `<id>.json`). The file
 * stem must equal the manifest's `id`, so the file an operator edits is unambiguous and an id
 * can never come from anywhere but a validated field. Every failure is MANIFEST_INVALID with
 * the file, the dotted field, its line and column where the file has it, and a hint. `check`
 * holds the manifest to what this context cannot judge (its policy layer), located the same way.
 */
export async function loadManifestFile(
  path: string,
  options: { readonly check?: ManifestCheck } = {},
): Promise<AgentManifest> {
  const extension = extname(path).toLowerCase();
  if (!isManifestExtension(extension)) {
    throw invalid(
      path,
      '',
      `unsupported manifest file extension '${extension}'`,
      'use .yaml, .yml or .json',
    );
  }

  const read = await readBoundedFile(path, MAX_MANIFEST_BYTES, { followSymlinks: true });
  switch (read.kind) {
    case 'ok':
      break;
    case 'missing':
      throw invalid(path, '', 'manifest file does not exist', 'check the path');
    case 'too-large':
      throw invalid(
        path,
        '',
        `manifest file is ${read.size} bytes (limit ${MAX_MANIFEST_BYTES})`,
        FORMAT_HINT,
      );
    case 'not-regular':
      throw invalid(path, '', `manifest path is ${read.what}`, 'point at a regular file');
    case 'error':
      throw invalid(
        path,
        '',
        `cannot read manifest file: ${read.message}`,
        'check file permissions',
      );
  }

  const text = read.bytes.toString('utf8');
  const raw = parseManifestText(path, extension, text);
  const parsed = AgentManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const { first, summary } = describeZodError(parsed.error);
    throw withFieldPosition(
      // One problem: its own words (the field is named beside them); several: each with its field.
      invalid(
        path,
        first.field,
        parsed.error.issues.length === 1 ? first.message : summary,
        unknownFieldHint(parsed.error.issues[0]) ?? FORMAT_HINT,
      ),
      text,
    );
  }

  const stem = basename(path, extname(path));
  if (parsed.data.id !== stem) {
    throw invalid(
      path,
      'id',
      `manifest id '${parsed.data.id}' does not match its file name '${basename(path)}'`,
      `rename the file to ${parsed.data.id}${extension} or set id: ${stem}`,
    );
  }
  try {
    options.check?.(parsed.data, path);
  } catch (thrown) {
    throw isAasError(thrown) ? withFieldPosition(thrown, text) : thrown;
  }
  return parsed.data;
}

/** "did you mean" for a misspelt top-level field, which the schema only calls unknown. */
function unknownFieldHint(issue: z.core.$ZodIssue | undefined): string | undefined {
  if (issue?.code !== 'unrecognized_keys' || issue.path.length > 0) return undefined;
  const near = closestName(issue.keys[0] ?? '', Object.keys(AgentManifestSchema.shape));
  return near === null ? undefined : `did you mean "${near}"? ${FORMAT_HINT}`;
}

export function isManifestExtension(
  extension: string,
): extension is (typeof MANIFEST_EXTENSIONS)[number] {
  return (MANIFEST_EXTENSIONS as readonly string[]).includes(extension);
}

function parseManifestText(path: string, extension: string, text: string): unknown {
  if (extension === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw invalid(
        path,
        '',
        `manifest is not valid JSON: ${(error as Error).message}`,
        FORMAT_HINT,
      );
    }
  }
  // parseDocument collects errors (duplicate keys included) instead of guessing.
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const error = document.errors[0];
  if (error !== undefined) {
    // The pretty message already says "at line L, column C"; keep that line, drop the snippet.
    const message = yamlErrorMessage(text, error).split('\n')[0] ?? error.message;
    throw invalid(path, '', `manifest is not valid YAML: ${message}`, FORMAT_HINT);
  }
  try {
    // A small alias budget: a "billion laughs" document must not expand into memory.
    return document.toJS({ maxAliasCount: 50 }) as unknown;
  } catch (error) {
    throw invalid(
      path,
      '',
      `manifest YAML cannot be expanded: ${(error as Error).message}`,
      FORMAT_HINT,
    );
  }
}

function invalid(file: string, field: string, message: string, hint: string): AasError {
  return new AasError('MANIFEST_INVALID', message, {
    file,
    ...(field === '' ? {} : { field }),
    hint,
  });
}
