import { AasError } from '../kernel/index.js';
import { type DirtyEntry, listDirtyEntries } from './list-dirty-entries.js';
import { repoRelativeDirs } from './repo-relative-dirs.js';
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
  /**
   * Absolute paths of directories that are AAS's own, not the user's: the caller passes the AAS
   * home, which the default `./.aas` puts inside the checkout. Untracked files at or under them
   * neither make the base dirty nor enter a snapshot (git is not even asked to walk them).
   * Paths outside the repository, or the repository root itself, have no effect.
   */
  readonly excludePaths?: readonly string[];
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

  const dataDirs = await repoRelativeDirs(git.repoRoot, options.excludePaths ?? []);
  const { entries, trackedInDataDirs } = await listBaseDirt(
    git,
    dataDirs,
    options.userExcludesFile,
  );
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
      hint: `commit or stash them, or pass --allow-dirty-base to run on a snapshot of the working tree${trackedDataHint(trackedInDataDirs)}`,
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

/**
 * The checkout's uncommitted changes, AAS's data directories aside. Untracked files there are
 * AAS's database, run dirs and artifacts: listing them would report AAS's own writes as the
 * user's dirt and copy the database and private git dirs into the snapshot every workspace
 * receives. The exclusion is a pathspec, so git does not even walk those directories. Tracked
 * files there still count, in a second, tracked-only listing: AAS never writes a tracked file,
 * so a change to one (the repository's own `.aas/policy.yaml`) is the user's and must not be
 * silently left out of the base.
 */
async function listBaseDirt(
  git: RunGit,
  dataDirs: readonly string[],
  userExcludesFile: string | undefined,
): Promise<{ entries: DirtyEntry[]; trackedInDataDirs: string[] }> {
  const outside = await listDirtyEntries(git, {
    untracked: true,
    ...(userExcludesFile === undefined ? {} : { userExcludesFile }),
    // `:/` keeps a positive pathspec (older git refuses exclusions alone); `literal` so a
    // directory name with glob characters means itself.
    ...(dataDirs.length === 0
      ? {}
      : { pathspecs: [':/', ...dataDirs.map((dir) => `:(top,literal,exclude)${dir}`)] }),
  });
  if (dataDirs.length === 0) return { entries: outside, trackedInDataDirs: [] };
  const inside = await listDirtyEntries(git, {
    untracked: false,
    pathspecs: dataDirs.map((dir) => `:(top,literal)${dir}`),
  });
  return {
    entries: [...outside, ...inside].sort((a, b) => Buffer.compare(a.raw, b.raw)),
    trackedInDataDirs: inside.map((entry) => entry.path),
  };
}

/**
 * A tracked file in the data directory is most likely one AAS wrote and the user committed by
 * accident (`git add -A` after a first run): committing or stashing it again would not help.
 */
function trackedDataHint(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  const named = paths.slice(0, MAX_NAMED_DIRTY_PATHS).join(', ');
  return `; tracked inside the AAS data directory: ${named} (if AAS wrote these, untrack them with \`git rm --cached\` and ignore the directory)`;
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
