import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { AgentRegistry } from '../drivers/index.js';
import { AasError } from '../kernel/index.js';
import { checkTargetBranch, type JobSpec, requireAgentInput } from '../runner/index.js';
import type { Store } from '../store/index.js';
import {
  checkLocalRepo,
  checkRepoPath,
  checkRepoUrlHost,
  DEFAULT_GIT_SEARCH_PATH,
  isRepoUrl,
  type RepoPathRule,
  type RepoUrlRule,
  repoUrlProtocol,
} from '../workspaces/index.js';

/**
 * What can be checked before a job is queued (submitted now, or stored in a schedule), so a
 * typo is a 400 now rather than a failed run later: the repository is a URL whose host this
 * control plane's rule allows (fetched by whoever runs the job, so not read here, and checked
 * again, with its addresses, by that host) or an absolute path that exists on this host inside
 * AAS_REPO_PATHS (a `file://` URL too) and, as a path, is a git working tree, every
 * agent is registered and has the input it needs, and a pinned worker is one a run could go to.
 */
export async function checkSubmittable(
  deps: { readonly registry: AgentRegistry; readonly store: Store },
  job: JobSpec,
  repoUrls: RepoUrlRule,
  repoPaths: RepoPathRule,
): Promise<void> {
  const { registry } = deps;
  checkTargetBranch(job);
  await checkPin(deps.store, job.worker);
  const { repo } = job;
  if (isRepoUrl(repo)) {
    checkRepoUrlHost(repo, repoUrls);
    if (repoUrlProtocol(repo) === 'file' && !repoPaths.roots.includes('*')) {
      await checkRepoPath(plainFileUrlPath(repo), repoPaths);
    }
    for (const agent of [job.agent, ...job.fallbackAgents]) {
      requireAgentInput(registry.get(agent), job);
    }
    return;
  }
  if (!isAbsolute(repo)) {
    throw new AasError('JOB_INVALID', `repo must be an absolute path on the server, got ${repo}`, {
      field: 'repo',
      hint: 'the server resolves paths on its own host; aas run --server sends an absolute path',
    });
  }
  await checkRepoPath(repo, repoPaths);
  try {
    await stat(repo);
  } catch {
    throw new AasError('REPO_NOT_FOUND', `no repository at ${repo} on this host`, {
      field: 'repo',
    });
  }
  // A directory that is no git checkout (`/etc`) would be queued and fail as REPO_NOT_GIT.
  // Its base ref is not looked up here: the branch may well be pushed before the run starts.
  await checkLocalRepo(repo, DEFAULT_GIT_SEARCH_PATH);
  for (const agent of [job.agent, ...job.fallbackAgents]) {
    requireAgentInput(registry.get(agent), job);
  }
}

/**
 * A pin names a worker by its name (`worker:<name>` is what a remote worker offers), so a pin by
 * id, or to a revoked worker, would wait for ever: refused, saying what to pin instead. So is a
 * pin to an embedded worker slot (`worker:HOST:PID:N`): the id dies with its server process, and
 * a run queued or requeued after that process stopped (a restart, a killed replica) or a
 * schedule's later fires would wait for it for good. A name no remote worker has is let through:
 * a worker may enrol under it later.
 */
async function checkPin(store: Store, pin: string | undefined): Promise<void> {
  if (pin === undefined) return;
  if (pin.startsWith(EMBEDDED_PIN_PREFIX)) {
    throw new AasError(
      'JOB_INVALID',
      `worker ${pin} is an embedded worker of one server process: its id ends with that process, and a run pinned to it would then wait queued for good`,
      {
        field: 'worker',
        hint: "to run on one server's embedded workers, give that server AAS_WORKER_LABELS and require a label (requireLabels, --require-label); pin only remote workers, by name (aas workers)",
      },
    );
  }
  const worker = await store.getWorker(pin);
  if (worker === null) return;
  if (worker.name !== pin) {
    throw new AasError('JOB_INVALID', `worker pins a worker by name, not by id: "${worker.name}"`, {
      field: 'worker',
      hint: `use "worker": "${worker.name}"`,
    });
  }
  if (worker.revokedAt !== null) {
    throw new AasError(
      'JOB_INVALID',
      `worker ${worker.name} was revoked at ${worker.revokedAt}: no run pinned to it can run`,
      { field: 'worker', hint: 'pin another worker, or require labels instead (aas workers)' },
    );
  }
}

/** How an embedded worker slot's id begins; a remote worker's name has no colon. */
const EMBEDDED_PIN_PREFIX = 'worker:';

/** `file:///` followed by a path with no `.` or `..` segment, `%` escape, query or fragment. */
const PLAIN_FILE_URL = /^file:\/\/(\/[^%?#]*)$/;

/**
 * The path of a `file://` URL, read as git reads it. Under a path rule only the plain form is
 * taken: a URL parser and git disagree on the rest (a host git ignores, `%2f`, and `..`, which a
 * parser drops as text where git lets the kernel follow a link first), so what was checked could
 * differ from what git opens.
 */
function plainFileUrlPath(url: string): string {
  const path = PLAIN_FILE_URL.exec(url)?.[1];
  if (
    path === undefined ||
    path.split('/').some((segment) => segment === '.' || segment === '..')
  ) {
    throw new AasError(
      'JOB_INVALID',
      `a file:// repository URL must be file:/// and an absolute path without ".", "..", "%", "?" or "#": ${url}`,
      { field: 'repo', hint: 'give the repository as a plain absolute path instead' },
    );
  }
  return path;
}
