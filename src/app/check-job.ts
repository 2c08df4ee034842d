import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { AgentRegistry } from '../drivers/index.js';
import { AasError } from '../kernel/index.js';
import type { JobSpec } from '../runner/index.js';
import { checkRepoUrlHost, isRepoUrl, type RepoUrlRule } from '../workspaces/index.js';

/**
 * What can be checked before a job is queued (submitted now, or stored in a schedule), so a
 * typo is a 400 now rather than a failed run later: the repository is a URL whose host this
 * control plane's rule allows (fetched by whoever runs the job, so not read here, and checked
 * again, with its addresses, by that host) or an absolute path that exists on this host, and
 * every agent is registered.
 */
export async function checkSubmittable(
  registry: AgentRegistry,
  job: JobSpec,
  repoUrls: RepoUrlRule,
): Promise<void> {
  const { repo } = job;
  if (isRepoUrl(repo)) {
    checkRepoUrlHost(repo, repoUrls);
    for (const agent of [job.agent, ...job.fallbackAgents]) registry.get(agent);
    return;
  }
  if (!isAbsolute(repo)) {
    throw new AasError('JOB_INVALID', `repo must be an absolute path on the server, got ${repo}`, {
      field: 'repo',
      hint: 'the server resolves paths on its own host; aas run --server sends an absolute path',
    });
  }
  try {
    await stat(repo);
  } catch {
    throw new AasError('REPO_NOT_FOUND', `no repository at ${repo} on the server`, {
      field: 'repo',
    });
  }
  for (const agent of [job.agent, ...job.fallbackAgents]) registry.get(agent);
}
