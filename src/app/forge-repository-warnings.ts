import type { SubmitWarning } from '../api/index.js';
import type { JobSpec } from '../runner/index.js';

/**
 * A draft pull request's repository named by the job and not among those the operator lists
 * (AAS_GITHUB_REPOSITORIES): the promotion takes it only if the remote's URL names the same one,
 * and falls back to a branch otherwise. Said when the job is queued, not first at promotion,
 * after the agent ran. Not an error: which repository the remote names is not known until then.
 */
export function forgeRepositoryWarnings(job: JobSpec, listed: readonly string[]): SubmitWarning[] {
  const named = job.promotion.repository;
  if (job.promotion.mode !== 'draft_pr' || named === undefined) return [];
  if (listed.some((repository) => repository.toLowerCase() === named.toLowerCase())) return [];
  return [
    {
      field: 'promotion.repository',
      message: `${named} is not in AAS_GITHUB_REPOSITORIES: a pull request goes there only if the repository's remote URL names it; otherwise the promotion falls back to a branch`,
      hint:
        listed.length === 0
          ? 'leave promotion.repository out when the remote is on GitHub, or ask the operator to list the repository'
          : `the listed repositories are ${listed.join(', ')}`,
    },
  ];
}
