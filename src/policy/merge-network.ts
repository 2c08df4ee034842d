import type { EffectiveNetwork, LayerHostList } from './effective-policy.js';
import {
  formatHostPattern,
  type HostPattern,
  hostPatternCovers,
  intersectHostPatterns,
  parseHostPattern,
} from './host-pattern.js';
import { POLICY_DEFAULTS } from './policy-defaults.js';
import type { PolicyLayer } from './policy-layer-schema.js';

type NetworkSetting = NonNullable<PolicyLayer['network']>;

function hostPatterns(entries: readonly string[]): HostPattern[] {
  // Entries were validated by the schema; a failure here is impossible, and dropping the
  // entry would only narrow, so it cannot widen anything.
  return entries.flatMap((entry) => {
    const parsed = parseHostPattern(entry);
    return parsed.ok ? [parsed.pattern] : [];
  });
}

/** Intersect allow-lists exactly (the entry language is closed under intersection), then drop entries another entry covers. */
function intersectHostLists(lists: readonly HostPattern[][]): HostPattern[] {
  const [first, ...rest] = lists;
  if (!first) return [];
  let current = first;
  for (const list of rest) {
    current = current.flatMap((a) => list.flatMap((b) => intersectHostPatterns(a, b) ?? []));
  }
  const kept: HostPattern[] = [];
  current.forEach((candidate, index) => {
    const coveredByOther = current.some(
      (other, otherIndex) =>
        otherIndex !== index &&
        hostPatternCovers(other, candidate) &&
        // Of two equal entries keep the first.
        (!hostPatternCovers(candidate, other) || otherIndex < index),
    );
    if (!coveredByOther) kept.push(candidate);
  });
  return kept;
}

const NETWORK_STRICTNESS = { disabled: 0, allowlist: 1, full: 2 } as const;

/**
 * Merge the network settings of the layers that set one: the strictest mode wins
 * (disabled < allowlist < full); allow-lists are intersected exactly. No setting at all means
 * the default, disabled.
 */
export function mergeNetwork(set: readonly { name: string; value: NetworkSetting }[]): {
  value: EffectiveNetwork;
  by: string[];
} {
  if (set.length === 0) return { value: { mode: POLICY_DEFAULTS.network }, by: [] };
  const modeOf = (network: NetworkSetting) => (typeof network === 'string' ? network : 'allowlist');
  const strictest = Math.min(...set.map((entry) => NETWORK_STRICTNESS[modeOf(entry.value)]));
  const deciding = set.filter((entry) => NETWORK_STRICTNESS[modeOf(entry.value)] === strictest);
  const by = deciding.map((entry) => entry.name);
  if (strictest === NETWORK_STRICTNESS.disabled) return { value: { mode: 'disabled' }, by };
  if (strictest === NETWORK_STRICTNESS.full) return { value: { mode: 'full' }, by };
  // `full` layers admit every host, so only the allow-list layers narrow.
  const perLayer = deciding.map((entry) => ({
    name: entry.name,
    patterns: hostPatterns(typeof entry.value === 'string' ? [] : entry.value.allow),
  }));
  const layerLists: LayerHostList[] = perLayer.map(({ name, patterns }) => ({
    layer: name,
    allow: [...new Set(patterns.map(formatHostPattern))],
  }));
  const allow = intersectHostLists(perLayer.map((entry) => entry.patterns)).map(formatHostPattern);
  return { value: { mode: 'allowlist', allow, layers: layerLists }, by };
}
