import { readFile } from 'node:fs/promises';
import { AasError } from '../kernel/index.js';
import type { NamedLayer } from './effective-policy.js';
import { parsePolicyLayer, validatePolicyLayer } from './parse-policy-layer.js';

/** Where a repository keeps its policy layer; always read from the base commit, never a workspace. */
export const REPO_POLICY_PATH = '.aas/policy.yaml';

/**
 * A layer file named by an operator (`--policy`, `AAS_POLICY`). A named layer that cannot be
 * read denies: it never silently disappears from the merge.
 */
export async function readPolicyLayerFile(file: string, name: string): Promise<NamedLayer> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AasError('POLICY_INVALID', `cannot read the policy layer: ${reason}`, {
      file,
      hint: 'check the path; a policy layer that is named but unreadable denies every run',
    });
  }
  return { name, source: file, layer: parsePolicyLayer(text, { file }) };
}

/** The repository layer, from the bytes of `.aas/policy.yaml` at `commit`. */
export function repoPolicyLayer(text: string, commit: string): NamedLayer {
  const at = commit.length === 40 ? commit.slice(0, 12) : commit;
  return {
    name: 'repo',
    source: `${REPO_POLICY_PATH}@${at}`,
    layer: parsePolicyLayer(text, { file: `${REPO_POLICY_PATH} (at ${at})` }),
  };
}

/** An agent manifest's `policy:` block as a layer, or null when the manifest sets none. */
export function agentPolicyLayer(manifest: {
  readonly id: string;
  readonly policy?: unknown;
}): NamedLayer | null {
  if (manifest.policy === undefined || manifest.policy === null) return null;
  return {
    name: `agent:${manifest.id}`,
    source: `agent manifest ${manifest.id}`,
    layer: validatePolicyLayer(manifest.policy, {
      file: `agent manifest ${manifest.id}`,
      fieldPrefix: 'policy',
      code: 'MANIFEST_INVALID',
    }),
  };
}
