import type { NamedLayer } from './effective-policy.js';
import { grantsAccess, mergePolicy } from './merge-policy.js';
import { POLICY_DEFAULTS } from './policy-defaults.js';

/** Something a repository's or job's layer asked for that the merged policy does not give. */
export interface NotGranted {
  readonly layer: string;
  readonly field: 'sandbox' | 'network' | 'env.allow' | 'promotion.approvals';
  readonly asked: string;
  readonly why: string;
}

const NETWORK_WIDTH = { disabled: 0, allowlist: 1, full: 2 } as const;

/**
 * What the layers that cannot grant access (the repository's, the job's) asked beyond what the
 * operator's layers grant: so that `aas policy explain` says why a job's `network: full` is
 * `disabled`, rather than leaving the request to look ignored. Compared with the operator's
 * layers merged alone: what another repo or job layer narrowed away merely lost the merge
 * (deny wins), which the values' deciding layers already show.
 */
export function notGranted(layers: readonly NamedLayer[]): NotGranted[] {
  const granted = mergePolicy(layers.filter((entry) => grantsAccess(entry.name)));
  const found: NotGranted[] = [];
  const operator =
    'only the operator grants this (the server layer AAS_POLICY, or an installed agent manifest)';
  for (const { name, layer } of layers) {
    if (grantsAccess(name)) continue;
    if (layer.sandbox === 'off' && granted.sandbox !== 'off') {
      const why =
        granted.decidedBy.sandbox.length > 0
          ? `the operator set sandbox: ${granted.sandbox}`
          : operator;
      found.push({ layer: name, field: 'sandbox', asked: 'off', why });
    }
    const network = layer.network;
    if (network !== undefined) {
      const mode = typeof network === 'string' ? network : 'allowlist';
      if (NETWORK_WIDTH[mode] > NETWORK_WIDTH[granted.network.mode]) {
        const asked = typeof network === 'string' ? network : `allow ${network.allow.join(', ')}`;
        const has =
          granted.network.mode === 'allowlist'
            ? `the operator allows ${granted.network.allow.join(', ') || 'no host'}`
            : 'the operator grants no network';
        found.push({ layer: name, field: 'network', asked, why: `${operator}; ${has}` });
      }
    }
    const missing = (layer.env?.allow ?? []).filter(
      (variable) => !(granted.envAllow ?? []).includes(variable),
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
