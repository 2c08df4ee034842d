import type { EffectivePolicy } from './effective-policy.js';
import { type HostPattern, parseHostPattern } from './host-pattern.js';
import { type PathMatcher, pathMatcher } from './path-matcher.js';

export interface CompiledRule {
  readonly layer: string;
  readonly pattern: string;
  readonly matches: PathMatcher;
}

export interface CompiledAllowList {
  readonly layer: string;
  readonly patterns: readonly string[];
  readonly matchers: readonly PathMatcher[];
}

export interface CompiledPolicy {
  readonly deny: readonly CompiledRule[];
  readonly runtime: readonly CompiledRule[];
  readonly allow: readonly CompiledAllowList[];
  /** Per allow-list layer, its parsed network entries (empty when the network is not an allow-list). */
  readonly hosts: readonly (readonly HostPattern[])[];
}

// Keyed by the policy object itself: an EffectivePolicy stays plain data (it is recorded in
// events), while paths are checked against it in hot loops, so matchers compile once per policy.
const cache = new WeakMap<EffectivePolicy, CompiledPolicy>();

function compileRules(rules: readonly { layer: string; pattern: string }[]): CompiledRule[] {
  return rules.map(({ layer, pattern }) => ({ layer, pattern, matches: pathMatcher(pattern) }));
}

export function compiledPolicy(policy: EffectivePolicy): CompiledPolicy {
  const cached = cache.get(policy);
  if (cached) return cached;
  const compiled: CompiledPolicy = {
    deny: compileRules(policy.paths.deny),
    runtime: compileRules(policy.paths.runtime),
    allow: policy.paths.allow.map(({ layer, patterns }) => ({
      layer,
      patterns,
      matchers: patterns.map(pathMatcher),
    })),
    hosts:
      policy.network.mode === 'allowlist'
        ? policy.network.layers.map((list) =>
            list.allow.flatMap((entry) => {
              const parsed = parseHostPattern(entry);
              // An entry that no longer parses admits nothing: dropping it can only narrow.
              return parsed.ok ? [parsed.pattern] : [];
            }),
          )
        : [],
  };
  cache.set(policy, compiled);
  return compiled;
}
