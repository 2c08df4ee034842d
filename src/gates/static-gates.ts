import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { type Code, normaliseError } from '../kernel/index.js';
import { decidePath, type EffectivePolicy } from '../policy/index.js';
import type { PatchFile, PatchResult } from '../workspaces/index.js';
import { GateClass, type PathDenial } from './gate-verdict.js';

export interface StaticGateResult {
  readonly passed: boolean;
  readonly code: Code;
  readonly detail: string;
  readonly evidence?: unknown;
  readonly denials?: readonly PathDenial[];
}

export interface StaticGate {
  readonly name: string;
  readonly gateClass: GateClass;
  check(input: StaticGateInput): StaticGateResult | Promise<StaticGateResult>;
}

export interface StaticGateInput {
  readonly policy: EffectivePolicy;
  readonly patch: PatchResult;
  /** The directory the patch was taken from, whose files some gates measure. */
  readonly workspaceDir: string;
}

const pass = (detail: string, evidence?: unknown): StaticGateResult => ({
  passed: true,
  code: 'GATES_PASSED',
  detail,
  ...(evidence === undefined ? {} : { evidence }),
});

/** Every path a patch touches: both sides of a rename, since moving a file out of a path also changes it. */
export function touchedPaths(files: readonly PatchFile[]): string[] {
  const paths = new Set<string>();
  for (const file of files) {
    paths.add(file.path);
    if (file.oldPath !== undefined) paths.add(file.oldPath);
  }
  return [...paths].sort();
}

function pathGate(name: string, kinds: ReadonlySet<string>, verb: string): StaticGate {
  return {
    name,
    gateClass: GateClass.policy,
    check({ policy, patch }) {
      const denials: PathDenial[] = [];
      for (const path of touchedPaths(patch.files)) {
        const decision = decidePath(policy, path);
        if (!decision.allowed && kinds.has(decision.kind)) {
          denials.push({
            path,
            kind: decision.kind,
            layer: decision.layer ?? null,
            rule: decision.rule ?? null,
            reason: decision.reason,
          });
        }
      }
      if (denials.length === 0) return pass(`${touchedPaths(patch.files).length} path(s) checked`);
      const shown = denials
        .slice(0, 10)
        .map((d) => `${d.path} (${d.reason})`)
        .join('; ');
      return {
        passed: false,
        code: 'POLICY_DENIED',
        detail: `${denials.length} path(s) ${verb}: ${shown}${denials.length > 10 ? '; …' : ''}`,
        evidence: { denials },
        denials,
      };
    },
  };
}

/**
 * A symlink may point only inside the workspace and never into git metadata: a link is a
 * promise about another path, and promotion must not turn it into a way out.
 */
export function symlinkEscape(linkPath: string, target: string): string | null {
  if (target.length === 0) return 'empty symlink target';
  if (target.startsWith('/')) return `absolute target ${target}`;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../'))
    return `target ${target} leaves the workspace`;
  if (resolved.split('/').some((segment) => segment.toLowerCase() === '.git'))
    return `target ${target} points into .git`;
  return null;
}

/** Why a symlink may not be promoted, or null: it must stay inside and point at nothing denied. */
export function symlinkProblem(
  policy: EffectivePolicy,
  linkPath: string,
  target: string,
): string | null {
  const outside = symlinkEscape(linkPath, target);
  if (outside !== null) return outside;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  const decision = decidePath(policy, resolved);
  if (!decision.allowed && decision.kind !== 'not-allowed') {
    return `target ${resolved} is forbidden (${decision.reason})`;
  }
  return null;
}

export const STATIC_GATES: readonly StaticGate[] = [
  {
    name: 'patch.nonempty',
    gateClass: GateClass.integrity,
    check: ({ patch }) =>
      patch.files.length > 0
        ? pass(`${patch.files.length} file(s) changed`)
        : {
            passed: false,
            code: 'EMPTY_PATCH',
            detail: 'the agent changed nothing that would be promoted',
          },
  },
  pathGate('paths.allowed', new Set(['not-allowed']), 'outside every allow-list'),
  pathGate('paths.forbidden', new Set(['denied', 'invalid-path', 'git-metadata']), 'forbidden'),
  {
    name: 'runtime.artifacts',
    gateClass: GateClass.policy,
    // Runtime artifacts were already removed from the patch; this gate reports what was dropped.
    check: ({ patch }) =>
      pass(
        patch.runtimeDropped.length === 0
          ? 'no runtime artifacts'
          : `${patch.runtimeDropped.length} runtime artifact(s) dropped from the patch`,
        {
          dropped: patch.runtimeDropped.slice(0, 200),
          ignoredUntracked: patch.ignoredUntracked.slice(0, 200),
        },
      ),
  },
  {
    name: 'binary.changes',
    gateClass: GateClass.policy,
    check: ({ policy, patch }) => {
      const binaries = patch.files.filter((file) => file.binary).map((file) => file.path);
      if (binaries.length === 0) return pass('no binary changes');
      if (policy.binaryChanges)
        return pass(`${binaries.length} binary file(s), allowed by policy`, { binaries });
      return {
        passed: false,
        code: 'POLICY_DENIED',
        detail: `binary changes are not allowed: ${binaries.slice(0, 10).join(', ')}`,
        evidence: { binaries },
        denials: binaries.map((path) => ({
          path,
          kind: 'binary',
          layer: null,
          rule: 'binaryChanges: false',
          reason: 'binary change',
        })),
      };
    },
  },
  {
    name: 'symlinks',
    gateClass: GateClass.policy,
    // A link to a denied file would publish that file wherever the link is published.
    check: ({ policy, patch }) => {
      const escapes = patch.files.flatMap((file) => {
        if (file.symlinkTarget === undefined) return [];
        const problem = symlinkProblem(policy, file.path, file.symlinkTarget);
        return problem === null ? [] : [{ path: file.path, target: file.symlinkTarget, problem }];
      });
      if (escapes.length === 0) return pass('no escaping symlinks');
      return {
        passed: false,
        code: 'POLICY_DENIED',
        detail: escapes.map((e) => `${e.path}: ${e.problem}`).join('; '),
        evidence: { escapes },
        denials: escapes.map((e) => ({
          path: e.path,
          kind: 'symlink',
          layer: null,
          rule: 'symlinks stay inside and point at nothing denied',
          reason: e.problem,
        })),
      };
    },
  },
  {
    name: 'limits.changedFiles',
    gateClass: GateClass.limit,
    check: ({ policy, patch }) => {
      const limit = policy.limits.maxChangedFiles;
      const count = patch.files.length;
      return count <= limit
        ? pass(`${count} ≤ ${limit} changed files`)
        : {
            passed: false,
            code: 'GATE_FAILED',
            detail: `${count} changed files exceed the limit of ${limit}`,
          };
    },
  },
  {
    name: 'limits.fileSize',
    gateClass: GateClass.limit,
    // The kernel refuses a write past RLIMIT_FSIZE and sends SIGXFSZ to the writer alone: a
    // child that hit it leaves its file cut at exactly the limit while the agent goes on and
    // may still report success (measured: `seq … > f; true` passed every gate with f cut at
    // maxFileBytes). A file the run changed that reached the limit is taken as cut short.
    check: async ({ policy, patch, workspaceDir }) => {
      const limit = policy.limits.maxFileBytes;
      const reached: { path: string; sizeBytes: number }[] = [];
      for (const file of patch.files) {
        if (file.status === 'deleted' || file.newMode === '120000' || file.newMode === '160000') {
          continue;
        }
        const found = await lstat(join(workspaceDir, file.path)).catch(() => null);
        if (found?.isFile() && found.size >= limit) {
          reached.push({ path: file.path, sizeBytes: found.size });
        }
      }
      if (reached.length === 0) return pass(`every changed file is under ${limit} bytes`);
      return {
        passed: false,
        code: 'AGENT_FILE_SIZE_LIMIT',
        detail: `${reached.map((entry) => entry.path).join(', ')} reached the file size limit of ${limit} bytes, where a longer write is refused: cut short`,
        evidence: { limitBytes: limit, reached: reached.slice(0, 20) },
      };
    },
  },
  {
    name: 'limits.patchLines',
    gateClass: GateClass.limit,
    check: ({ policy, patch }) => {
      const limit = policy.limits.maxPatchLines;
      const lines = patch.stats.patchLines;
      return lines <= limit
        ? pass(`${lines} ≤ ${limit} patch lines`)
        : {
            passed: false,
            code: 'GATE_FAILED',
            detail: `${lines} changed lines exceed the limit of ${limit}`,
          };
    },
  },
];

/** Runs one static gate; a gate that throws denies (fail closed). */
export async function runStaticGate(
  gate: StaticGate,
  input: StaticGateInput,
): Promise<StaticGateResult> {
  try {
    return await gate.check(input);
  } catch (thrown) {
    const error = normaliseError(thrown);
    return {
      passed: false,
      code: 'GATE_ERROR',
      detail: `gate crashed, which denies: ${error.message}`,
    };
  }
}
