import { AasError, isAasError } from '../kernel/index.js';
import { REPO_POLICY_PATH, repoPolicyLayer } from '../policy/index.js';
import { readPolicyFileAtCommit } from '../workspaces/index.js';
import type { RunPromotionPolicy } from './promotion-context.js';
import type { PromotionGit } from './promotion-git.js';

/** The promotion rules a branch or pull request must meet, and what made them stricter. */
export interface TargetPromotionPolicy {
  readonly policy: RunPromotionPolicy;
  /** Each rule the target's own repository policy made stricter than the run's, in words. */
  readonly stricter: readonly string[];
}

/**
 * The run's promotion rules held to the repository policy at the target's head as well. The
 * run recorded the rules of its base commit, which whoever submitted the job chose: a base
 * from a branch without `.aas/policy.yaml` (or from before a stricter one) asked fewer
 * approvals than the branch written to demands. Each rule takes the stricter of the two, as
 * layers merge: approvals the maximum, protected branches the union, `block` over `revalidate`.
 * A policy file at the target that does not parse refuses the promotion (POLICY_INVALID): its
 * rules are unknown, so none can be met for certain.
 */
export async function targetPromotionPolicy(
  git: PromotionGit,
  targetHead: string,
  recorded: RunPromotionPolicy,
): Promise<TargetPromotionPolicy> {
  const text = await readPolicyFileAtCommit(git, targetHead, REPO_POLICY_PATH);
  if (text === null) return { policy: recorded, stricter: [] };
  let rules: NonNullable<ReturnType<typeof repoPolicyLayer>['layer']['promotion']> | undefined;
  try {
    rules = repoPolicyLayer(text.toString('utf8'), targetHead).layer.promotion;
  } catch (thrown) {
    if (!isAasError(thrown)) throw thrown;
    throw new AasError(
      'POLICY_INVALID',
      `the target's ${REPO_POLICY_PATH} at ${targetHead} is invalid, so the promotion rules it sets are unknown: ${thrown.message}`,
      {
        ...thrown.details,
        hint: `fix ${REPO_POLICY_PATH} on the target branch, then promote again`,
      },
    );
  }
  if (rules === undefined) return { policy: recorded, stricter: [] };
  const stricter: string[] = [];
  const approvals = Math.max(recorded.approvals, rules.approvals ?? 0);
  if (approvals > recorded.approvals) {
    stricter.push(`${approvals} approvals (the run's base asked ${recorded.approvals})`);
  }
  const added = (rules.protectedBranches ?? []).filter(
    (branch) => !recorded.protectedBranches.includes(branch),
  );
  if (added.length > 0) stricter.push(`protected branches ${added.join(', ')}`);
  const onBaseMoved =
    recorded.onBaseMoved === 'block' || rules.onBaseMoved === 'block' ? 'block' : 'revalidate';
  if (onBaseMoved !== recorded.onBaseMoved) stricter.push('onBaseMoved: block');
  return {
    policy: {
      approvals,
      protectedBranches: [...recorded.protectedBranches, ...added],
      onBaseMoved,
    },
    stricter,
  };
}
