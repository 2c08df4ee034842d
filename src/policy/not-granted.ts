import type { EffectivePolicy, NamedLayer } from './effective-policy.js';
import { grantsAccess } from './merge-policy.js';

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
  const operator =
    'only the operator grants this (the server layer, AAS_POLICY, or an installed agent manifest)';
  for (const { name, layer } of layers) {
    if (grantsAccess(name)) continue;
    if (layer.sandbox === 'off' && policy.sandbox !== 'off') {
      found.push({ layer: name, field: 'sandbox', asked: 'off', why: operator });
    }
    const network = layer.network;
    if (network !== undefined && network !== 'disabled' && policy.network.mode === 'disabled') {
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
    if (approvals !== undefined && approvals < policy.promotion.approvals) {
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
