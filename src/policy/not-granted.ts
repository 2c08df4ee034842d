import type { EffectivePolicy, NamedLayer } from './effective-policy.js';
import { grantsAccess } from './merge-policy.js';
import { POLICY_DEFAULTS } from './policy-defaults.js';

/** Something a repository's or job's layer asked for that the merged policy does not give. */
export interface NotGranted {
  readonly layer: string;
  readonly field: 'sandbox' | 'network' | 'env.allow' | 'promotion.approvals';
  readonly asked: string;
  readonly why: string;
}

/**
 * What the layers that cannot grant access (the repository's, the job's) asked beyond what they
 * got: so that `aas policy explain` says why a job's `network: full` is `disabled`, rather than
 * leaving the request to look ignored.
 */
export function notGranted(layers: readonly NamedLayer[], policy: EffectivePolicy): NotGranted[] {
  const found: NotGranted[] = [];
  // Where the operator set a field, a repository's or job's value merely lost the merge (deny
  // wins) and the explanation's values say so; only the defaults' bound is a grant withheld.
  const operatorSet = (pick: (layer: NamedLayer['layer']) => unknown) =>
    layers.some((entry) => grantsAccess(entry.name) && pick(entry.layer) !== undefined);
  const sandboxBound = !operatorSet((layer) => layer.sandbox);
  const networkBound = !operatorSet((layer) => layer.network);
  const operator =
    'only the operator grants this (the server layer, AAS_POLICY, or an installed agent manifest)';
  for (const { name, layer } of layers) {
    if (grantsAccess(name)) continue;
    if (sandboxBound && layer.sandbox === 'off' && policy.sandbox !== 'off') {
      found.push({ layer: name, field: 'sandbox', asked: 'off', why: operator });
    }
    const network = layer.network;
    if (networkBound && network !== undefined && network !== 'disabled') {
      const asked = network === 'full' ? 'full' : `allow ${network.allow.join(', ')}`;
      found.push({ layer: name, field: 'network', asked, why: operator });
    }
    const missing = (layer.env?.allow ?? []).filter(
      (variable) => !(policy.envAllow ?? []).includes(variable),
    );
    if (missing.length > 0) {
      found.push({ layer: name, field: 'env.allow', asked: missing.join(', '), why: operator });
    }
    const approvals = layer.promotion?.approvals;
    if (approvals !== undefined && approvals < POLICY_DEFAULTS.approvals) {
      found.push({
        layer: name,
        field: 'promotion.approvals',
        asked: String(approvals),
        why: 'only the server layer may ask for fewer approvals than the default',
      });
    }
  }
  return found;
}
