import { checkedOutBranchAt, isRepoUrl } from '../workspaces/index.js';
import { branchOfRef } from './branch-of-ref.js';
import type { JobSpec } from './job-spec.js';

/**
 * The job with the branch its patch is promoted onto fixed when the run is asked for. A job
 * that names none (no `promotion.targetBranch`, a base ref that is no branch) of a local
 * repository gets the branch the checkout is on now. Read later, at approval or promotion, it
 * followed wherever the checkout had moved meanwhile: switching branches voided the run's
 * approvals and moved its target. A detached HEAD leaves the job as it is (see targetBranchOf).
 */
export async function withTargetBranch(job: JobSpec): Promise<JobSpec> {
  if (job.promotion.targetBranch !== undefined) return job;
  if (branchOfRef(job.baseRef) !== null || isRepoUrl(job.repo)) return job;
  const branch = await checkedOutBranchAt(job.repo);
  if (branch === null) return job;
  return { ...job, promotion: { ...job.promotion, targetBranch: branch } };
}
