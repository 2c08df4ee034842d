import { compiledPolicy } from './compiled-policy.js';
import type { EffectivePolicy } from './effective-policy.js';
import { normaliseRepoPath, touchesGitMetadata } from './normalise-repo-path.js';

export const PathDecisionKind = {
  allowed: 'allowed',
  invalidPath: 'invalid-path',
  gitMetadata: 'git-metadata',
  denied: 'denied',
  notAllowed: 'not-allowed',
} as const;
export type PathDecisionKind = (typeof PathDecisionKind)[keyof typeof PathDecisionKind];

export interface PathDecision {
  /** The normalised path when it is valid, otherwise the path as given. */
  readonly path: string;
  readonly allowed: boolean;
  readonly kind: PathDecisionKind;
  /** The layer behind a denial (the deny rule's, or the allow-list's that missed). */
  readonly layer?: string;
  /** The deny glob, or `paths.allow [..]` of the layer whose allow-list missed. */
  readonly rule?: string;
  readonly reason: string;
}

export function formatAllowRule(patterns: readonly string[]): string {
  return `paths.allow [${patterns.join(', ')}]`;
}

/**
 * May a patch change this path? In order: the path must be a valid repo-relative path, must
 * not touch git metadata, must match no deny glob of any layer, and must match the allow-list
 * of every layer that has one. Deny is checked before allow so a denial names the forbidding
 * rule, the most useful explanation; the verdict is the same in either order.
 */
export function decidePath(policy: EffectivePolicy, path: string): PathDecision {
  const normalised = normaliseRepoPath(path);
  if (!normalised.ok) {
    return {
      path,
      allowed: false,
      kind: 'invalid-path',
      reason: `invalid path: ${normalised.reason}`,
    };
  }
  const clean = normalised.path;
  if (touchesGitMetadata(clean)) {
    return {
      path: clean,
      allowed: false,
      kind: 'git-metadata',
      reason: 'git metadata is never part of a patch',
    };
  }
  const compiled = compiledPolicy(policy);
  for (const rule of compiled.deny) {
    if (rule.matches(clean)) {
      return {
        path: clean,
        allowed: false,
        kind: 'denied',
        layer: rule.layer,
        rule: rule.pattern,
        reason: `denied by layer ${rule.layer} (${rule.pattern})`,
      };
    }
  }
  for (const list of compiled.allow) {
    if (!list.matchers.some((matches) => matches(clean))) {
      return {
        path: clean,
        allowed: false,
        kind: 'not-allowed',
        layer: list.layer,
        rule: formatAllowRule(list.patterns),
        reason:
          list.patterns.length === 0
            ? `layer ${list.layer} allows no paths (its paths.allow is empty)`
            : `not in the allow-list of layer ${list.layer} (${list.patterns.join(', ')})`,
      };
    }
  }
  return { path: clean, allowed: true, kind: 'allowed', reason: 'allowed' };
}

/**
 * The runtime rule a path falls under (it is dropped from patches and reported), or null.
 * An invalid path is not a runtime artifact: decidePath denies it instead.
 */
export function runtimeRule(
  policy: EffectivePolicy,
  path: string,
): { layer: string; rule: string } | null {
  const normalised = normaliseRepoPath(path);
  if (!normalised.ok) return null;
  for (const rule of compiledPolicy(policy).runtime) {
    if (rule.matches(normalised.path)) return { layer: rule.layer, rule: rule.pattern };
  }
  return null;
}
