import { AasError } from '../kernel/index.js';
import { listDirtyEntries } from './list-dirty-entries.js';
import { resolveCommit } from './resolve-commit.js';
import { runGit } from './run-git.js';
import { snapshotDirtyCheckout } from './snapshot-dirty-checkout.js';
import type { BaseResolution, RunGit } from './types.js';

export interface ResolveBaseOptions {
  /** Any commit-ish the user's repository resolves (default `HEAD`). */
  readonly baseRef?: string;
  /** Snapshot uncommitted changes into a commit instead of refusing with BASE_DIRTY. */
  readonly allowDirty: boolean;
  /**
   * The host user's global ignore file, when the composition root knows it. Without it, files
   * ignored only there (editor folders, `.DS_Store`) count as untracked, hence dirty.
   */
  readonly userExcludesFile?: string;
}

const MAX_NAMED_DIRTY_PATHS = 10;

/**
 * Resolves the run's base to a commit of the user's repository (invariant 6: runs start from a
 * committed base). The working tree matters only when the base is the checked-out commit: then
 * uncommitted changes are refused (BASE_DIRTY), or with `allowDirty` snapshotted into a commit
 * stored only in the run's private git dir. A base that is some other commit is committed by
 * definition, whatever state the checkout is in.
 */
export async function resolveBase(
  git: RunGit,
  options: ResolveBaseOptions,
): Promise<BaseResolution> {
  const baseRef = options.baseRef ?? 'HEAD';
  const baseCommit = await resolveBaseCommit(git, baseRef);
  const headCommit = baseRef === 'HEAD' ? baseCommit : await resolveCommitOrNull(git, 'HEAD');
  const clean = {
    repoRoot: git.repoRoot,
    baseRef,
    baseCommit,
    dirty: false,
    dirtyPaths: [],
    snapshot: false,
  };
  if (headCommit !== baseCommit) return clean;

  const entries = await listDirtyEntries(git, options.userExcludesFile);
  if (entries.length === 0) return clean;
  const dirtyPaths = [...new Set(entries.map((entry) => entry.path))];
  if (!options.allowDirty) {
    const named = dirtyPaths.slice(0, MAX_NAMED_DIRTY_PATHS).join(', ');
    const more =
      dirtyPaths.length > MAX_NAMED_DIRTY_PATHS
        ? ` and ${dirtyPaths.length - MAX_NAMED_DIRTY_PATHS} more`
        : '';
    throw new AasError('BASE_DIRTY', `${git.repoRoot} has uncommitted changes: ${named}${more}`, {
      field: 'baseRef',
      hint: 'commit or stash them, or pass --allow-dirty-base to run on a snapshot of the working tree',
      dirtyPaths: dirtyPaths.slice(0, 100),
    });
  }
  const snapshotCommit = await snapshotDirtyCheckout(git, baseCommit, entries);
  return {
    repoRoot: git.repoRoot,
    baseRef,
    baseCommit: snapshotCommit,
    dirty: true,
    dirtyPaths,
    snapshot: true,
  };
}

async function resolveBaseCommit(git: RunGit, ref: string): Promise<string> {
  const commit = await resolveCommitOrNull(git, ref);
  if (commit !== null) return commit;
  const branches = await listBranches(git);
  const hint =
    branches.length === 0
      ? 'the repository has no commits yet: commit something first'
      : `branches include: ${branches.join(', ')}; a tag or a commit sha also works`;
  throw new AasError(
    'BASE_REF_UNKNOWN',
    `base ref '${ref}' does not resolve to a commit in ${git.repoRoot}`,
    {
      field: 'baseRef',
      hint,
    },
  );
}

function resolveCommitOrNull(git: RunGit, ref: string): Promise<string | null> {
  return resolveCommit({ searchPath: git.searchPath, gitDir: git.repoGitDir }, git.repoRoot, ref);
}

async function listBranches(git: RunGit): Promise<string[]> {
  const result = await runGit({
    args: [
      'for-each-ref',
      '--count=8',
      '--sort=-committerdate',
      '--format=%(refname:short)',
      'refs/heads/',
    ],
    cwd: git.repoRoot,
    env: { searchPath: git.searchPath, gitDir: git.repoGitDir },
  });
  return result.stdout
    .toString('utf8')
    .split('\n')
    .filter((name) => name !== '');
}
