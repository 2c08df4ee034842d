import type { z } from 'zod';
import { shownValue, valueAt } from '../kernel/index.js';

/** The first problem of a failed layer validation, phrased for the person who wrote the file. */
export interface PolicyIssue {
  /** Where the problem is, as keys and indices from the layer's root. */
  readonly path: readonly (string | number)[];
  /** Dotted field, e.g. `limits.timeoutSec` or `paths.allow[2]`. */
  readonly field: string;
  readonly message: string;
  readonly hint: string;
  /** True when the problem is the key itself (an unknown key), not its value. */
  readonly atKey: boolean;
}

type Issue = z.core.$ZodIssue;

const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': [
    'version',
    'paths',
    'network',
    'tools',
    'env',
    'limits',
    'binaryChanges',
    'sandbox',
    'promotion',
  ],
  paths: ['allow', 'deny', 'runtime'],
  network: ['allow'],
  env: ['allow'],
  limits: [
    'timeoutSec',
    'maxChangedFiles',
    'maxPatchLines',
    'maxOutputBytes',
    'cpuSec',
    'maxProcesses',
    'maxMemoryBytes',
    'maxFileBytes',
    'maxWorkspaceGrowthBytes',
    'maxCostUsd',
    'maxInputTokens',
    'maxOutputTokens',
  ],
  promotion: ['approvals', 'requireDistinctApprover', 'protectedBranches', 'onBaseMoved'],
};

const FIELD_HINTS: Readonly<Record<string, string>> = {
  '': 'a policy layer is a mapping such as { paths: { allow: [src/**] }, limits: { timeoutSec: 600 } }',
  version: 'the only policy version is 1 (or leave it out)',
  paths: 'a mapping with allow, deny and runtime lists of globs',
  'paths.allow': 'a list of repo-relative globs such as src/** or docs/*.md',
  'paths.deny': 'a list of repo-relative globs such as **/*.pem or secrets/**',
  'paths.runtime':
    'a list of repo-relative globs for generated files to drop from patches, such as dist/**',
  network:
    'one of: disabled, full, or { allow: [api.example.com, registry.npmjs.org:443, *.example.com] }',
  'network.allow': 'a list of hosts: host, host:port, *.example.com or [ipv6]:port',
  tools: 'a list of tool names',
  env: 'a mapping with an allow list of environment variable names',
  'env.allow':
    'a list of environment variable names that may pass into the sandbox, such as CI or NODE_ENV',
  limits:
    'a mapping of timeoutSec, maxChangedFiles, maxPatchLines, maxOutputBytes, cpuSec, maxProcesses, maxMemoryBytes, maxFileBytes, maxWorkspaceGrowthBytes, maxCostUsd, maxInputTokens and maxOutputTokens',
  'limits.timeoutSec': 'a whole number of seconds greater than 0, e.g. 1800',
  'limits.maxChangedFiles': 'a whole number of files, 0 or more, e.g. 50',
  'limits.maxPatchLines': 'a whole number of added plus removed lines, 0 or more, e.g. 2000',
  'limits.maxOutputBytes': 'a whole number of bytes greater than 0, e.g. 16777216 for 16 MiB',
  'limits.maxMemoryBytes':
    'a whole number of bytes greater than 0 for the whole process tree, e.g. 4294967296 for 4 GiB',
  'limits.maxCostUsd': 'a number of US dollars, 0 or more, e.g. 2.5',
  'limits.maxInputTokens':
    'a whole number of model input tokens (cached included) for the whole run, 0 or more, e.g. 2000000',
  'limits.maxOutputTokens':
    'a whole number of model output tokens for the whole run, 0 or more, e.g. 200000',
  binaryChanges: 'true or false',
  sandbox: 'one of: required, preferred, off',
  promotion: 'a mapping of approvals, requireDistinctApprover, protectedBranches and onBaseMoved',
  'promotion.approvals': 'a whole number of approvals, 0 or more',
  'promotion.requireDistinctApprover': 'true or false',
  'promotion.protectedBranches': 'a list of branch names such as main',
  'promotion.onBaseMoved': 'one of: revalidate, block',
};

const TYPE_WORDS: Readonly<Record<string, string>> = {
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

export function formatField(path: readonly PropertyKey[]): string {
  let field = '';
  for (const segment of path) {
    if (typeof segment === 'number') field += `[${segment}]`;
    else field += field === '' ? String(segment) : `.${String(segment)}`;
  }
  return field;
}

/** An issue with its path from the layer root (issues inside a union are relative to it). */
interface Located {
  readonly issue: Issue;
  readonly path: readonly PropertyKey[];
}

/**
 * A union failure carries one issue list per branch. The useful one is the branch whose root
 * type matched the input (an object for `network: { allow }`, a string for `network: full`);
 * root-level type mismatches are the branches that were never meant.
 */
function flatten(issue: Issue, prefix: readonly PropertyKey[]): Located[] {
  const path = [...prefix, ...issue.path];
  if (issue.code !== 'invalid_union') return [{ issue, path }];
  const isRootMismatch = (inner: Issue) =>
    inner.path.length === 0 && (inner.code === 'invalid_type' || inner.code === 'invalid_value');
  const meant =
    issue.errors.find((branch) => branch.length > 0 && !branch.some(isRootMismatch)) ??
    issue.errors[0] ??
    [];
  return meant.length > 0 ? meant.flatMap((inner) => flatten(inner, path)) : [{ issue, path }];
}

function describe(
  { issue, path }: Located,
  input: unknown,
): { message: string; hint?: string; keyPath?: PropertyKey[] } {
  const value = valueAt(input, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
      const known = KNOWN_KEYS[formatField(path)];
      return {
        message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}`,
        hint: known ? `known keys here: ${known.join(', ')}` : 'remove the key',
        keyPath: [...path, issue.keys[0] ?? ''],
      };
    }
    case 'invalid_type': {
      const expected = TYPE_WORDS[issue.expected] ?? issue.expected;
      return { message: `expected ${expected}, got ${shownValue(value)}` };
    }
    case 'invalid_value':
      return {
        message: `expected ${issue.values.map((v) => String(v)).join(' or ')}, got ${shownValue(value)}`,
      };
    case 'too_small':
      if (issue.origin === 'string') return { message: 'must not be empty' };
      return {
        message: `must be ${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}, got ${shownValue(value)}`,
      };
    case 'too_big':
      return {
        message: `must be ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}, got ${shownValue(value)}`,
      };
    case 'custom': {
      const hint = issue.params?.hint;
      return typeof hint === 'string'
        ? { message: issue.message, hint }
        : { message: issue.message };
    }
    default:
      return { message: issue.message };
  }
}

function genericHint(path: readonly PropertyKey[]): string {
  const field = formatField(path.filter((segment) => typeof segment !== 'number'));
  return FIELD_HINTS[field] ?? 'see the policy layer reference';
}

/** The most useful single issue of a failed validation; unknown keys first, since they often explain the rest. */
export function firstPolicyIssue(error: z.ZodError, input: unknown): PolicyIssue {
  const located = error.issues.flatMap((issue) => flatten(issue, []));
  const isUnknownKey = (entry: Located) => entry.issue.code === 'unrecognized_keys';
  const first = located.find(isUnknownKey) ?? located[0];
  if (!first)
    return {
      path: [],
      field: '',
      message: 'invalid policy layer',
      hint: genericHint([]),
      atKey: false,
    };
  const described = describe(first, input);
  const path = (described.keyPath ?? first.path).map((segment) =>
    typeof segment === 'number' ? segment : String(segment),
  );
  return {
    path,
    field: formatField(path),
    message: described.message,
    hint: described.hint ?? genericHint(first.path),
    atKey: described.keyPath !== undefined,
  };
}
