import { checkedOutBranchAt, isRepoUrl } from '../workspaces/index.js';
import { branchNameProblem } from './branch-name-problem.js';
import { branchOfRef } from './branch-of-ref.js';
import type { JobSpec } from './job-spec.js';

/**
 * What a stored job's `promotion.targetBranch` holds for a run asked for on a detached HEAD:
 * no branch. Approvals bind to it, and only patch mode promotes such a run.
 */
export const NO_BRANCH = 'HEAD';

/** The longest target branch a job holds (JobSpecSchema). */
const MAX_TARGET_BRANCH_CHARS = 200;

/**
 * The job with the branch its patch is promoted onto fixed when the run is asked for. A job
 * that names none (no `promotion.targetBranch`, a base ref that is no branch) of a local
 * repository gets the branch the checkout is on now, or NO_BRANCH when it is detached. Read
 * later, at approval or promotion, it followed wherever the checkout had moved meanwhile:
 * switching branches voided the run's approvals and moved its target. A name the job could not
 * hold is left out, and the target is then read as before (see targetBranchOf).
 */
export async function withTargetBranch(job: JobSpec): Promise<JobSpec> {
  if (job.promotion.targetBranch !== undefined) return job;
  if (branchOfRef(job.baseRef) !== null || isRepoUrl(job.repo)) return job;
  const checkedOut = await checkedOutBranchAt(job.repo);
  if (checkedOut === null) return job;
  const target = 'detached' in checkedOut ? NO_BRANCH : checkedOut.branch;
  if (
    target !== NO_BRANCH &&
    (target.length > MAX_TARGET_BRANCH_CHARS || branchNameProblem(target) !== null)
  ) {
    return job;
  }
  return { ...job, promotion: { ...job.promotion, targetBranch: target } };
}
