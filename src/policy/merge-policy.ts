import { AasError } from '../kernel/index.js';
import { deepFreeze } from './deep-freeze.js';
import type {
  EffectiveLimits,
  EffectivePolicy,
  LayerAllowList,
  NamedLayer,
  PatternRule,
  PolicyField,
} from './effective-policy.js';
import { FLOOR_LAYER } from './floor-layer.js';
import { mergeNetwork } from './merge-network.js';
import { POLICY_DEFAULTS } from './policy-defaults.js';
import { firstPolicyIssue } from './policy-issue.js';
import { type PolicyLayer, PolicyLayerSchema, type SandboxMode } from './policy-layer-schema.js';

const SANDBOX_STRICTNESS: Readonly<Record<SandboxMode, number>> = {
  off: 0,
  preferred: 1,
  required: 2,
};

interface Checked {
  readonly name: string;
  readonly source: string;
  readonly layer: PolicyLayer;
}

type LimitField = Extract<PolicyField, `limits.${string}`>;

/** Layers that set a value, with it. */
function setting<T>(
  layers: readonly Checked[],
  pick: (layer: PolicyLayer) => T | undefined,
): { name: string; value: T }[] {
  return layers.flatMap(({ name, layer }) => {
    const value = pick(layer);
    return value === undefined ? [] : [{ name, value }];
  });
}

/**
 * Whether a layer was written by whoever runs this installation: the built-in floor, the
 * operator's server layer (`AAS_POLICY`) and the agent manifests the operator installed. Only
 * these may grant a run more than the defaults give it: the sandbox off, network access, host
 * environment variables. The repository's layer (its committers) and the job's (whoever submits
 * it) can only narrow what those and the defaults leave; otherwise a job could switch the
 * sandbox off or have the control plane's own secrets passed to its agent.
 */
export function grantsAccess(layerName: string): boolean {
  return layerName === 'floor' || layerName === 'server' || layerName.startsWith('agent:');
}

/** The defaults, as a layer: merged like one where no granting layer speaks, never reported. */
const DEFAULTS_NAME = '\0defaults';

/**
 * `entries`, preceded by the default as a layer when no granting layer is among them: a value
 * the repository or the job sets then merges with the default (deny wins) instead of replacing it.
 */
function boundedByDefault<T>(
  entries: readonly { name: string; value: T }[],
  fallback: T,
): { name: string; value: T }[] {
  return entries.some((entry) => grantsAccess(entry.name))
    ? [...entries]
    : [{ name: DEFAULTS_NAME, value: fallback }, ...entries];
}

function withoutDefaults<T extends { by: string[] }>(merged: T): T {
  return { ...merged, by: merged.by.filter((name) => name !== DEFAULTS_NAME) };
}

/** The winning value by `better`, and every layer that holds it. */
function extreme<T>(
  entries: readonly { name: string; value: T }[],
  fallback: T,
  better: (a: T, b: T) => boolean,
): { value: T; by: string[] } {
  let value = fallback;
  let by: string[] = [];
  for (const entry of entries) {
    if (by.length === 0 || better(entry.value, value)) {
      value = entry.value;
      by = [entry.name];
    } else if (entry.value === value) {
      by.push(entry.name);
    }
  }
  return { value, by };
}

function intersection(entries: readonly { name: string; value: readonly string[] }[]): {
  value: string[] | null;
  by: string[];
} {
  const [first, ...rest] = entries;
  if (!first) return { value: null, by: [] };
  let value = [...new Set(first.value)];
  for (const entry of rest) {
    const admitted = new Set(entry.value);
    value = value.filter((item) => admitted.has(item));
  }
  return { value, by: entries.map((entry) => entry.name) };
}

function union(
  layers: readonly Checked[],
  pick: (layer: PolicyLayer) => readonly string[] | undefined,
): PatternRule[] {
  const seen = new Set<string>();
  const rules: PatternRule[] = [];
  for (const { name, layer } of layers) {
    for (const pattern of pick(layer) ?? []) {
      const key = `${name}\0${pattern}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rules.push({ layer: name, pattern });
    }
  }
  return rules;
}

function checkLayers(layers: readonly NamedLayer[]): Checked[] {
  const all = [FLOOR_LAYER, ...layers.filter((layer) => layer !== FLOOR_LAYER)];
  const names = new Set<string>();
  return all.map((named) => {
    const fail = (field: string, message: string, hint: string) =>
      new AasError('POLICY_INVALID', message, {
        file: named.source,
        field,
        hint,
        layer: named.name,
      });
    if (named.name.trim() === '') {
      throw fail(
        'name',
        'a policy layer needs a name',
        "name it 'server', 'repo', 'agent:<id>' or 'job'",
      );
    }
    if (named !== FLOOR_LAYER && named.name === FLOOR_LAYER.name) {
      throw fail(
        'name',
        "the layer name 'floor' is reserved for the built-in floor",
        'give the layer another name',
      );
    }
    if (names.has(named.name)) {
      throw fail(
        'name',
        `two policy layers are named '${named.name}'`,
        'give every layer a distinct name so denials can name it',
      );
    }
    names.add(named.name);
    // The floor is a trusted constant; everything else is validated.
    if (named === FLOOR_LAYER)
      return { name: named.name, source: named.source, layer: named.layer };
    // Layers may come from code paths other than parsePolicyLayer (a job body, a manifest);
    // validating again here means an unvalidated glob can never reach the matcher.
    const parsed = PolicyLayerSchema.safeParse(named.layer);
    if (!parsed.success) {
      const issue = firstPolicyIssue(parsed.error, named.layer);
      throw fail(issue.field, issue.message, issue.hint);
    }
    return { name: named.name, source: named.source, layer: parsed.data };
  });
}

const lower = (a: number, b: number) => a < b;
function mergeLimits(layers: readonly Checked[]): {
  value: EffectiveLimits;
  by: Record<LimitField, string[]>;
} {
  const floor = FLOOR_LAYER.layer.limits;
  const min = (pick: (layer: PolicyLayer) => number | undefined, fallback: number) =>
    extreme(setting(layers, pick), fallback, lower);
  // The floor sets these, so the fallbacks are never used; they only keep the types total.
  const timeoutSec = min((l) => l.limits?.timeoutSec, floor?.timeoutSec ?? 3600);
  const maxChangedFiles = min((l) => l.limits?.maxChangedFiles, floor?.maxChangedFiles ?? 0);
  const maxPatchLines = min((l) => l.limits?.maxPatchLines, floor?.maxPatchLines ?? 0);
  const maxOutputBytes = min((l) => l.limits?.maxOutputBytes, floor?.maxOutputBytes ?? 1);
  const cpuSec = min((l) => l.limits?.cpuSec, floor?.cpuSec ?? 1);
  const maxProcesses = min((l) => l.limits?.maxProcesses, floor?.maxProcesses ?? 1);
  const maxMemoryBytes = min((l) => l.limits?.maxMemoryBytes, floor?.maxMemoryBytes ?? 1);
  const maxFileBytes = min((l) => l.limits?.maxFileBytes, floor?.maxFileBytes ?? 1);
  const maxWorkspaceGrowthBytes = min(
    (l) => l.limits?.maxWorkspaceGrowthBytes,
    floor?.maxWorkspaceGrowthBytes ?? 1,
  );
  // Model budgets have no floor: absent everywhere means no limit, and any layer's value caps.
  const optionalMin = (pick: (layer: PolicyLayer) => number | undefined) => {
    const values = setting(layers, pick);
    return values.length === 0
      ? { value: null, by: [] }
      : extreme(values, Number.POSITIVE_INFINITY, lower);
  };
  const maxCostUsd = optionalMin((l) => l.limits?.maxCostUsd);
  const maxInputTokens = optionalMin((l) => l.limits?.maxInputTokens);
  const maxOutputTokens = optionalMin((l) => l.limits?.maxOutputTokens);
  return {
    value: {
      timeoutSec: timeoutSec.value,
      maxChangedFiles: maxChangedFiles.value,
      maxPatchLines: maxPatchLines.value,
      maxOutputBytes: maxOutputBytes.value,
      cpuSec: cpuSec.value,
      maxProcesses: maxProcesses.value,
      maxMemoryBytes: maxMemoryBytes.value,
      maxFileBytes: maxFileBytes.value,
      maxWorkspaceGrowthBytes: maxWorkspaceGrowthBytes.value,
      maxCostUsd: maxCostUsd.value,
      maxInputTokens: maxInputTokens.value,
      maxOutputTokens: maxOutputTokens.value,
    },
    by: {
      'limits.timeoutSec': timeoutSec.by,
      'limits.maxChangedFiles': maxChangedFiles.by,
      'limits.maxPatchLines': maxPatchLines.by,
      'limits.maxOutputBytes': maxOutputBytes.by,
      'limits.cpuSec': cpuSec.by,
      'limits.maxProcesses': maxProcesses.by,
      'limits.maxMemoryBytes': maxMemoryBytes.by,
      'limits.maxFileBytes': maxFileBytes.by,
      'limits.maxWorkspaceGrowthBytes': maxWorkspaceGrowthBytes.by,
      'limits.maxCostUsd': maxCostUsd.by,
      'limits.maxInputTokens': maxInputTokens.by,
      'limits.maxOutputTokens': maxOutputTokens.by,
    },
  };
}

/**
 * Merge policy layers so that no layer can widen another (deny wins). The built-in floor is
 * always merged first, whether or not the caller passes it. Throws POLICY_INVALID for an
 * invalid layer or duplicate layer names: a layer that cannot be read denies the run.
 *
 * - paths.deny, paths.runtime: union, each pattern tagged with its layer.
 * - paths.allow: kept per layer; a path must match every layer's list (no glob arithmetic).
 * - network: strictest of disabled < allowlist < full; allow-lists intersect exactly.
 * - tools, env.allow: intersection of the layers that set them.
 * - limits: minimum. binaryChanges: AND. sandbox: strictest. approvals: maximum;
 * - network, env.allow, sandbox and approvals beyond their defaults only where a layer that
 *   grants access (grantsAccess: the operator's) says so; the repository's and the job's
 *   layers merge with the default instead.
 *   requireDistinctApprover: OR; protectedBranches: union.
 */
export function mergePolicy(layers: readonly NamedLayer[]): EffectivePolicy {
  const checked = checkLayers(layers);
  const allow: LayerAllowList[] = checked.flatMap(({ name, layer }) =>
    layer.paths?.allow === undefined
      ? []
      : [{ layer: name, patterns: [...new Set(layer.paths.allow)] }],
  );
  const deny = union(checked, (layer) => layer.paths?.deny);
  const runtime = union(checked, (layer) => layer.paths?.runtime);
  const networkSet = setting(checked, (layer) => layer.network);
  const network = withoutDefaults(
    mergeNetwork(
      networkSet.length === 0 ? [] : boundedByDefault(networkSet, POLICY_DEFAULTS.network),
    ),
  );
  const tools = intersection(setting(checked, (layer) => layer.tools));
  const envSet = setting(checked, (layer) => layer.env?.allow);
  // No host variable passes by default: without a granting layer's list, none passes at all.
  const env = envSet.some((entry) => grantsAccess(entry.name))
    ? intersection(envSet)
    : { value: envSet.length === 0 ? null : [], by: [] };
  const limits = mergeLimits(checked);

  const binarySet = setting(checked, (layer) => layer.binaryChanges);
  const binaryChanges = binarySet.length > 0 && binarySet.every((entry) => entry.value);
  const binaryBy = binarySet
    .filter((entry) => entry.value === binaryChanges)
    .map((entry) => entry.name);

  const sandboxSet = setting(checked, (layer) => layer.sandbox);
  const sandbox = withoutDefaults(
    extreme(
      sandboxSet.length === 0 ? [] : boundedByDefault(sandboxSet, POLICY_DEFAULTS.sandbox),
      POLICY_DEFAULTS.sandbox,
      (a, b) => SANDBOX_STRICTNESS[a] > SANDBOX_STRICTNESS[b],
    ),
  );
  // Approvals guard against the very people who write the repo and job layers (the requester,
  // the repository's committers), so only the operator's server layer may set fewer than the
  // default: every other layer can only raise the number.
  const approvalSettings = setting(checked, (layer) => layer.promotion?.approvals);
  const serverApprovals = approvalSettings.find((entry) => entry.name === 'server');
  const approvalFloor = serverApprovals?.value ?? POLICY_DEFAULTS.approvals;
  const approvalValue = Math.max(approvalFloor, ...approvalSettings.map((entry) => entry.value));
  const approvals = {
    value: approvalValue,
    // Below the default only the server layer decides: another layer asking as much was not
    // granted it (explain lists that request as not granted), whatever the server then set.
    by: approvalSettings
      .filter(
        (entry) =>
          entry.value === approvalValue &&
          (approvalValue >= POLICY_DEFAULTS.approvals || entry.name === 'server'),
      )
      .map((entry) => entry.name),
  };
  // Like the number of approvals: only the server layer may waive the default.
  const distinctSet = setting(checked, (layer) => layer.promotion?.requireDistinctApprover);
  const distinctEntries = distinctSet.some((entry) => entry.name === 'server')
    ? distinctSet
    : [{ name: DEFAULTS_NAME, value: POLICY_DEFAULTS.requireDistinctApprover }, ...distinctSet];
  const requireDistinctApprover = distinctEntries.some((entry) => entry.value);
  const distinctBy = distinctSet
    .filter((entry) => entry.value === requireDistinctApprover)
    .map((entry) => entry.name);
  const onBaseMoved = extreme(
    setting(checked, (layer) => layer.promotion?.onBaseMoved),
    POLICY_DEFAULTS.onBaseMoved,
    (a, b) => a === 'block' && b !== 'block',
  );
  const branchSet = setting(checked, (layer) => layer.promotion?.protectedBranches);
  const protectedBranches = [...new Set(branchSet.flatMap((entry) => entry.value))];

  const layersOf = (rules: readonly { layer: string }[]) => [
    ...new Set(rules.map((rule) => rule.layer)),
  ];
  const decidedBy: Record<PolicyField, readonly string[]> = {
    'paths.allow': allow.map((list) => list.layer),
    'paths.deny': layersOf(deny),
    'paths.runtime': layersOf(runtime),
    network: network.by,
    tools: tools.by,
    'env.allow': env.by,
    ...limits.by,
    binaryChanges: binaryBy,
    sandbox: sandbox.by,
    'promotion.approvals': approvals.by,
    'promotion.requireDistinctApprover': distinctBy,
    'promotion.protectedBranches': branchSet.map((entry) => entry.name),
    'promotion.onBaseMoved': onBaseMoved.by,
  };

  return deepFreeze({
    version: 1,
    layers: checked.map(({ name, source }) => ({ name, source })),
    paths: { allow, deny, runtime },
    network: network.value,
    tools: tools.value,
    envAllow: env.value,
    limits: limits.value,
    binaryChanges,
    sandbox: sandbox.value,
    promotion: {
      approvals: approvals.value,
      requireDistinctApprover,
      protectedBranches,
      onBaseMoved: onBaseMoved.value,
    },
    decidedBy,
  });
}
