import { assertNever } from '../kernel/index.js';
import { decidePath, type PathDecision, runtimeRule } from './decide-path.js';
import {
  type EffectivePolicy,
  type NamedLayer,
  POLICY_FIELDS,
  type PolicyField,
} from './effective-policy.js';
import { byLayer, formatBytes } from './format-values.js';
import { namesThisHost } from './local-host-entry.js';
import { type NotGranted, notGranted } from './not-granted.js';

export interface ExplainedValue {
  readonly field: PolicyField;
  readonly value: unknown;
  readonly display: string;
  /** The layers whose settings produced the value; empty = the built-in default. */
  readonly decidedBy: readonly string[];
}

export const PathOutcome = { allow: 'allow', deny: 'deny', drop: 'drop' } as const;
export type PathOutcome = (typeof PathOutcome)[keyof typeof PathOutcome];

export interface ExplainedPath {
  readonly path: string;
  /**
   * What happens to a change to this path: `drop` for runtime artifacts (removed from the
   * patch and reported before any gate looks at it), otherwise the path decision.
   */
  readonly outcome: PathOutcome;
  readonly decision: PathDecision;
  readonly runtime: { readonly layer: string; readonly rule: string } | null;
}

export interface PolicyExplanation {
  readonly layers: readonly { readonly name: string; readonly source: string }[];
  readonly values: readonly ExplainedValue[];
  readonly paths: readonly ExplainedPath[];
  /** What a repository's or job's layer asked for and did not get (given the layers). */
  readonly notGranted: readonly NotGranted[];
}

function describeValue(
  policy: EffectivePolicy,
  field: PolicyField,
): { value: unknown; display: string } {
  switch (field) {
    case 'paths.allow':
      return {
        value: policy.paths.allow,
        display:
          policy.paths.allow.length === 0
            ? 'any path (no layer has an allow-list)'
            : `must match every list: ${policy.paths.allow
                .map((list) => `${list.layer} [${list.patterns.join(', ')}]`)
                .join('; ')}`,
      };
    case 'paths.deny':
      return { value: policy.paths.deny, display: byLayer(policy.paths.deny) || '(none)' };
    case 'paths.runtime':
      return { value: policy.paths.runtime, display: byLayer(policy.paths.runtime) || '(none)' };
    case 'network': {
      const network = policy.network;
      switch (network.mode) {
        case 'disabled':
        case 'full':
          return { value: network, display: network.mode };
        case 'allowlist': {
          const local = network.allow.filter(namesThisHost);
          return {
            value: network,
            display:
              `allowlist: ${network.allow.length === 0 ? '(no host is in every list)' : network.allow.join(', ')}` +
              (local.length === 0
                ? ''
                : `; ${local.join(', ')} ${local.length === 1 ? 'is' : 'are'} this host: the sandbox reaches services listening there`),
          };
        }
        default:
          return assertNever(network, 'network mode');
      }
    }
    case 'tools':
      return {
        value: policy.tools,
        display:
          policy.tools === null
            ? 'any (no layer restricts tools)'
            : // Told to the agent in its instructions: AAS cannot see which tools an agent uses.
              `${policy.tools.join(', ') || '(none)'} (advice to the agent, not enforced)`,
      };
    case 'env.allow':
      return {
        value: policy.envAllow,
        display:
          policy.envAllow === null
            ? 'none (no layer lists variables)'
            : policy.envAllow.join(', ') || '(none)',
      };
    case 'limits.timeoutSec':
      return { value: policy.limits.timeoutSec, display: `${policy.limits.timeoutSec} s` };
    case 'limits.maxChangedFiles':
      return {
        value: policy.limits.maxChangedFiles,
        display: String(policy.limits.maxChangedFiles),
      };
    case 'limits.maxPatchLines':
      return { value: policy.limits.maxPatchLines, display: String(policy.limits.maxPatchLines) };
    case 'limits.maxOutputBytes':
      return {
        value: policy.limits.maxOutputBytes,
        display: formatBytes(policy.limits.maxOutputBytes),
      };
    case 'limits.cpuSec':
      return { value: policy.limits.cpuSec, display: `${policy.limits.cpuSec} s` };
    case 'limits.maxProcesses':
      return { value: policy.limits.maxProcesses, display: String(policy.limits.maxProcesses) };
    case 'limits.maxMemoryBytes':
      return {
        value: policy.limits.maxMemoryBytes,
        display: formatBytes(policy.limits.maxMemoryBytes),
      };
    case 'limits.maxFileBytes':
      return {
        value: policy.limits.maxFileBytes,
        display: formatBytes(policy.limits.maxFileBytes),
      };
    case 'limits.maxWorkspaceGrowthBytes':
      return {
        value: policy.limits.maxWorkspaceGrowthBytes,
        display: formatBytes(policy.limits.maxWorkspaceGrowthBytes),
      };
    case 'limits.maxCostUsd':
      return {
        value: policy.limits.maxCostUsd,
        display: policy.limits.maxCostUsd === null ? 'no limit' : `$${policy.limits.maxCostUsd}`,
      };
    case 'limits.maxInputTokens':
      return {
        value: policy.limits.maxInputTokens,
        display: tokenLimit(policy.limits.maxInputTokens),
      };
    case 'limits.maxOutputTokens':
      return {
        value: policy.limits.maxOutputTokens,
        display: tokenLimit(policy.limits.maxOutputTokens),
      };
    case 'binaryChanges':
      return {
        value: policy.binaryChanges,
        display: policy.binaryChanges ? 'allowed' : 'not allowed',
      };
    case 'sandbox':
      return { value: policy.sandbox, display: policy.sandbox };
    case 'promotion.approvals':
      return { value: policy.promotion.approvals, display: String(policy.promotion.approvals) };
    case 'promotion.requireDistinctApprover':
      return {
        value: policy.promotion.requireDistinctApprover,
        display: policy.promotion.requireDistinctApprover ? 'yes' : 'no',
      };
    case 'promotion.protectedBranches':
      return {
        value: policy.promotion.protectedBranches,
        display: policy.promotion.protectedBranches.join(', ') || '(none)',
      };
    case 'promotion.onBaseMoved':
      return { value: policy.promotion.onBaseMoved, display: policy.promotion.onBaseMoved };
    default:
      return assertNever(field, 'policy field');
  }
}

function tokenLimit(limit: number | null): string {
  return limit === null ? 'no limit' : `${limit} tokens`;
}

function explainPath(policy: EffectivePolicy, path: string): ExplainedPath {
  const decision = decidePath(policy, path);
  const structural = decision.kind === 'invalid-path' || decision.kind === 'git-metadata';
  const runtime = structural ? null : runtimeRule(policy, path);
  const outcome: PathOutcome = runtime ? 'drop' : decision.allowed ? 'allow' : 'deny';
  return { path: decision.path, outcome, decision, runtime };
}

/** Every effective value with the layers behind it, and the verdict for each given path. */
export function explainPolicy(
  policy: EffectivePolicy,
  paths: readonly string[],
  layers: readonly NamedLayer[] = [],
): PolicyExplanation {
  return {
    notGranted: notGranted(layers),
    layers: policy.layers.map(({ name, source }) => ({ name, source })),
    values: POLICY_FIELDS.map((field) => ({
      field,
      ...describeValue(policy, field),
      decidedBy: policy.decidedBy[field],
    })),
    paths: paths.map((path) => explainPath(policy, path)),
  };
}
