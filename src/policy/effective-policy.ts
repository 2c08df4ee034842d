import type { PolicyLayer, SandboxMode } from './policy-layer-schema.js';

/**
 * A policy layer with its provenance. Names: `floor` (built-in, reserved), `server`, `repo`,
 * `agent:<id>`, `job`. `source` is the file the layer came from, or `built-in`.
 */
export interface NamedLayer {
  readonly name: string;
  readonly source: string;
  readonly layer: PolicyLayer;
}

/** One deny or runtime glob and the layer that contributed it. */
export interface PatternRule {
  readonly layer: string;
  readonly pattern: string;
}

/** One layer's allow-list. A path must be admitted by every one of these (conjunction). */
export interface LayerAllowList {
  readonly layer: string;
  readonly patterns: readonly string[];
}

/** One layer's network allow-list, canonicalised. */
export interface LayerHostList {
  readonly layer: string;
  readonly allow: readonly string[];
}

export type EffectiveNetwork =
  | { readonly mode: 'disabled' }
  | { readonly mode: 'full' }
  | {
      readonly mode: 'allowlist';
      /** The exact intersection of every layer's list: what the sandbox should let through. */
      readonly allow: readonly string[];
      readonly layers: readonly LayerHostList[];
    };

export interface EffectiveLimits {
  readonly timeoutSec: number;
  readonly maxChangedFiles: number;
  readonly maxPatchLines: number;
  readonly maxOutputBytes: number;
  /** CPU seconds of the whole process tree. */
  readonly cpuSec: number;
  /** Processes alive at once. */
  readonly maxProcesses: number;
  /**
   * Memory the whole process tree may hold, swap and memory-backed files included; enforced
   * where the host has a cgroup memory controller (the run's `sandbox.selected` says).
   */
  readonly maxMemoryBytes: number;
  /** Largest file a process may write. */
  readonly maxFileBytes: number;
  /** How much the workspace (and the attempt's home and tmp) may grow while the agent runs. */
  readonly maxWorkspaceGrowthBytes: number;
  /** null = no layer caps cost. Model spend of the whole run, every attempt included. */
  readonly maxCostUsd: number | null;
  /** null = no layer caps them. Model input tokens (cached included) of the whole run. */
  readonly maxInputTokens: number | null;
  /** null = no layer caps them. Model output tokens of the whole run. */
  readonly maxOutputTokens: number | null;
}

/** Every merged value, by the dotted name `decidedBy` and `explainPolicy` use. */
export const POLICY_FIELDS = [
  'paths.allow',
  'paths.deny',
  'paths.runtime',
  'network',
  'tools',
  'env.allow',
  'limits.timeoutSec',
  'limits.maxChangedFiles',
  'limits.maxPatchLines',
  'limits.maxOutputBytes',
  'limits.cpuSec',
  'limits.maxProcesses',
  'limits.maxMemoryBytes',
  'limits.maxFileBytes',
  'limits.maxWorkspaceGrowthBytes',
  'limits.maxCostUsd',
  'limits.maxInputTokens',
  'limits.maxOutputTokens',
  'binaryChanges',
  'sandbox',
  'promotion.approvals',
  'promotion.requireDistinctApprover',
  'promotion.protectedBranches',
  'promotion.onBaseMoved',
] as const;
export type PolicyField = (typeof POLICY_FIELDS)[number];

/**
 * The merged policy of one run. A plain, frozen, JSON-serialisable object: it is recorded in
 * the `policy.resolved` event and can be re-read from there (compiled matchers are cached
 * beside it, never inside it).
 */
export interface EffectivePolicy {
  readonly version: 1;
  /** Merge order; the floor is always first. */
  readonly layers: readonly { readonly name: string; readonly source: string }[];
  readonly paths: {
    readonly allow: readonly LayerAllowList[];
    readonly deny: readonly PatternRule[];
    readonly runtime: readonly PatternRule[];
  };
  readonly network: EffectiveNetwork;
  /** null = no layer restricts tools. */
  readonly tools: readonly string[] | null;
  /** null = no layer lists variables, which means none pass (secrets never leak by default). */
  readonly envAllow: readonly string[] | null;
  readonly limits: EffectiveLimits;
  readonly binaryChanges: boolean;
  readonly sandbox: SandboxMode;
  readonly promotion: {
    readonly approvals: number;
    readonly requireDistinctApprover: boolean;
    readonly protectedBranches: readonly string[];
    /** What promotion does when the target branch moved since the run's base: block wins. */
    readonly onBaseMoved: 'revalidate' | 'block';
  };
  /** For each value, the layers whose settings produced it; empty = the built-in default. */
  readonly decidedBy: Readonly<Record<PolicyField, readonly string[]>>;
}
