import { AasError } from '../kernel/index.js';
import type { GitEnvOptions } from './git-env.js';
import { DEFAULT_GIT_SEARCH_PATH } from './git-env.js';
import { locateRepo } from './locate-repo.js';
import { resolveCommit } from './resolve-commit.js';
import { runGit } from './run-git.js';
import type { RunGit } from './types.js';

/**
 * The bytes of one regular file as committed, or null when the commit has no such path.
 * Reads git objects only, never a working tree, so it is the way to load what the agent must
 * not influence (the repository's `.aas/policy.yaml`): a workspace copy is irrelevant.
 * Pass the run's `RunGit` to see snapshot commits; a repository path sees the user's commits.
 * A path that names a directory, a symlink or a submodule is an error, not a file.
 */
export async function readFileAtCommit(
  source: RunGit | string,
  commit: string,
  path: string,
): Promise<Buffer | null> {
  const normalised = normaliseRepoPath(path);
  const { env, cwd } = await gitFor(source);
  const sha = await resolveCommit(env, cwd, commit);
  if (sha === null) {
    throw new AasError('BASE_REF_UNKNOWN', `'${commit}' is not a commit of this repository`, {
      field: 'commit',
    });
  }
  const listing = await runGit({
    args: ['ls-tree', '-z', '--full-tree', sha, '--', normalised],
    cwd,
    env: { ...env, literalPathspecs: true },
  });
  const entry = listing.stdout.toString('utf8').split('\0')[0] ?? '';
  if (entry === '') return null;
  const match = /^(\d{6}) (\w+) ([0-9a-f]{40})\t(.*)$/s.exec(entry);
  if (match === null || match[4] !== normalised) return null;
  const [, mode, , object] = match;
  if ((mode !== '100644' && mode !== '100755') || object === undefined) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `${normalised} at ${sha.slice(0, 12)} is not a regular file (mode ${mode})`,
      {
        field: 'path',
        hint: 'only regular files are read from a commit; symlinks are not followed',
      },
    );
  }
  const blob = await runGit({ args: ['cat-file', 'blob', object], cwd, env });
  return blob.stdout;
}

async function gitFor(source: RunGit | string): Promise<{ env: GitEnvOptions; cwd: string }> {
  if (typeof source !== 'string')
    return { env: { searchPath: source.searchPath, gitDir: source.gitDir }, cwd: source.gitDir };
  const repo = await locateRepo(source, DEFAULT_GIT_SEARCH_PATH);
  return { env: { searchPath: DEFAULT_GIT_SEARCH_PATH, gitDir: repo.gitDir }, cwd: repo.repoRoot };
}

/** Repo-relative POSIX path with no empty, `.` or `..` component; anything else is a caller bug. */
function normaliseRepoPath(path: string): string {
  const parts = path.split('/');
  if (
    path === '' ||
    path.startsWith('/') ||
    parts.some((part) => part === '' || part === '.' || part === '..') ||
    path.includes('\0')
  ) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `'${path}' is not a normalised repository-relative path`,
      { field: 'path' },
    );
  }
  return path;
}
