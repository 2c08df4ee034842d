import picomatch from 'picomatch';
import { AasError } from '../kernel/index.js';
import type { GitEnvOptions } from './git-env.js';
import { rememberCommit } from './known-commits.js';
import { type DirtyEntry, listDirtyEntries } from './list-dirty-entries.js';
import { repoRelativeDirs } from './repo-relative-dirs.js';
import { resolveCommits } from './resolve-commit.js';
import { runGit } from './run-git.js';
import { settleBoth } from './settle-both.js';
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

/** The checkout's dirt (see listBaseDirt) and the HEAD commit it is relative to (null: unborn). */
interface BaseDirt {
  readonly entries: DirtyEntry[];
  readonly trackedInDataDirs: string[];
  readonly head: string | null;
}

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
  const dataDirs = () => repoRelativeDirs(git.repoRoot, options.excludePaths ?? []);
  let baseCommit: string;
  let dirt: BaseDirt | null = null;
  if (baseRef === 'HEAD') {
    // The common case costs one git start: status reports HEAD's id with the dirt (it took a
    // `rev-parse` and a `status` before, ~3.5 ms each).
    const excluded = await dataDirs();
    dirt = await listBaseDirt(git, excluded, options.userExcludesFile).catch(async (thrown) => {
      // status dies ("bad object HEAD") where HEAD names a missing object: that is the
      // BASE_REF_UNKNOWN `rev-parse --verify HEAD^{commit}` reported, not an internal error.
      const [head] = await resolveCommits(repoEnv(git), git.repoRoot, ['HEAD']);
      if (head === null) return unknownBase(git, baseRef);
      throw thrown;
    });
    baseCommit = dirt.head ?? (await unknownBase(git, baseRef));
  } else {
    // The working tree matters only if the ref names the checked-out commit: both ids in one
    // `cat-file --batch-check`, and status only when they are equal.
    const [commit, headCommit] = await resolveCommits(repoEnv(git), git.repoRoot, [
      baseRef,
      'HEAD',
    ]);
    baseCommit = commit ?? (await unknownBase(git, baseRef));
    if (headCommit === baseCommit) {
      dirt = await listBaseDirt(git, await dataDirs(), options.userExcludesFile);
    }
  }
  rememberCommit(git, baseCommit);
  const clean = {
    repoRoot: git.repoRoot,
    baseRef,
    baseCommit,
    dirty: false,
    dirtyPaths: [],
    snapshot: false,
  };
  if (dirt === null || dirt.entries.length === 0) return clean;
  const { entries, trackedInDataDirs } = dirt;
  const dirtyPaths = [...new Set(entries.map((entry) => entry.path))];
  if (!options.allowDirty) {
    const named = dirtyPaths.slice(0, MAX_NAMED_DIRTY_PATHS).join(', ');
    const more =
      dirtyPaths.length > MAX_NAMED_DIRTY_PATHS
        ? ` and ${dirtyPaths.length - MAX_NAMED_DIRTY_PATHS} more`
        : '';
    throw new AasError('BASE_DIRTY', `${git.repoRoot} has uncommitted changes: ${named}${more}`, {
      // The job's repository is what has to change (its working tree), not the ref it names.
      field: 'repo',
      hint: `commit or stash them, or pass --allow-dirty-base to run on a snapshot of the working tree${trackedDataHint(trackedInDataDirs)}`,
      dirtyPaths: dirtyPaths.slice(0, 100),
    });
  }
  const snapshotCommit = await snapshotDirtyCheckout(git, baseCommit, entries);
  rememberCommit(git, snapshotCommit);
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
): Promise<BaseDirt> {
  const outsideListing = listDirtyEntries(git, {
    untracked: true,
    head: true,
    ...(userExcludesFile === undefined ? {} : { userExcludesFile }),
    // `:/` keeps a positive pathspec (older git refuses exclusions alone); `literal` so a
    // directory name with glob characters means itself.
    ...(dataDirs.length === 0
      ? {}
      : { pathspecs: [':/', ...dataDirs.map((dir) => `:(top,literal,exclude)${dir}`)] }),
  });
  if (dataDirs.length === 0) {
    const { entries, head } = await outsideListing;
    return { entries: withoutUntrackedSecrets(entries), trackedInDataDirs: [], head: head ?? null };
  }
  // Both listings only read (GIT_OPTIONAL_LOCKS=0), so they run side by side.
  const [outside, inside] = await settleBoth(
    outsideListing,
    listDirtyEntries(git, {
      untracked: false,
      pathspecs: dataDirs.map((dir) => `:(top,literal)${dir}`),
    }),
  );
  return {
    entries: [...withoutUntrackedSecrets(outside.entries), ...inside.entries].sort((a, b) =>
      Buffer.compare(a.raw, b.raw),
    ),
    trackedInDataDirs: inside.entries.map((entry) => entry.path),
    head: outside.head ?? null,
  };
}

/**
 * Untracked key and dotenv files (the names the policy floor never lets into a patch) are not
 * the user's work in progress but secrets that git does not know about: they neither make the
 * base dirty nor enter a snapshot, so `--allow-dirty-base` never hands an agent a `.env` the
 * repository does not contain. Committed ones are part of the repository, as any file is.
 */
const isUntrackedSecret = picomatch(
  ['**/*.[pP][eE][mM]', '**/*.[kK][eE][yY]', '**/.[eE][nN][vV]*'],
  { dot: true },
);

function withoutUntrackedSecrets(entries: DirtyEntry[]): DirtyEntry[] {
  return entries.filter((entry) => !(entry.index === '?' && isUntrackedSecret(entry.path)));
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

/** BASE_REF_UNKNOWN, naming a few branches that do exist. */
async function unknownBase(git: RunGit, ref: string): Promise<never> {
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

function repoEnv(git: RunGit): GitEnvOptions {
  return { searchPath: git.searchPath, gitDir: git.repoGitDir };
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
    env: repoEnv(git),
  });
  return result.stdout
    .toString('utf8')
    .split('\n')
    .filter((name) => name !== '');
}
