import { AasError } from '../kernel/index.js';
import type { GitEnvOptions } from './git-env.js';
import type { ChangedRoot } from './overlay-changes.js';
import { nulJoin, runGit, splitNul } from './run-git.js';

export interface StagedWorkspace {
  /** Directories with their own `.git`, left out of the index (paths without the trailing `/`). */
  readonly embeddedRepos: readonly Buffer[];
  /** New paths git refuses to record (`.GIT/x`, `git~1`, `sub/.git `...), left out of the index. */
  readonly refused: readonly Buffer[];
}

/**
 * Limits staging and the untracked listings to the subtrees an overlay's upper layer holds
 * (see overlayChangedRoots); absent for a worktree workspace, where the whole tree is looked at.
 */
export interface StageScope {
  readonly roots: readonly ChangedRoot[];
}

const SLASH = 0x2f;
const LITERAL = Buffer.from(':(literal)');
/**
 * Past this many bytes of pathspecs, the commands that take pathspecs only as arguments
 * (`ls-files`, `diff-files`) look at the whole tree instead: same answer, O(files). 64 KiB
 * stays far below Linux's 128 KiB per-argument and 2 MiB total limits.
 */
const MAX_ARGUMENT_PATHSPEC_BYTES = 64 * 1024;

/**
 * `git add -A` of the workspace into the index named by `env`, honouring `.gitignore`.
 * Two kinds of agent-created paths would break or poison that, and are kept out and returned:
 * - a directory with its own `.git` (listed by ls-files as `dir/`): `git add` would record it
 *   as a submodule, or abort when it has no commit;
 * - a path git refuses as a possible `.git` alias (NTFS/HFS protections): `git add` aborts.
 * Any other failure to record a change (an unreadable modified file) is an error: the patch
 * would silently differ from the workspace the validators ran in.
 *
 * With a scope, only the roots are staged. A root that the base does not have and that holds
 * no untracked file the ignore rules let through is left out: naming an ignored path
 * explicitly makes `git add` fail ("paths are ignored"), where the full-tree `add -A` skips it
 * silently. Everything else is the same git command on fewer paths.
 */
export async function stageWorkspace(
  env: GitEnvOptions,
  cwd: string,
  scope?: StageScope,
): Promise<StagedWorkspace> {
  const git = (args: readonly string[], input?: Buffer, okExitCodes?: readonly number[]) =>
    runGit({
      args,
      cwd,
      env,
      ...(input === undefined ? {} : { input }),
      ...(okExitCodes === undefined ? {} : { okExitCodes }),
    });
  const limit = scope === undefined ? [] : pathspecArguments(scope.roots.map((r) => r.path));

  const untracked =
    scope === undefined || mayHoldUntracked(scope)
      ? splitNul((await git(['ls-files', '-z', '--others', '--exclude-standard', ...limit])).stdout)
      : [];
  const embeddedRepos = untracked
    .filter((path) => path[path.length - 1] === SLASH)
    .map((path) => path.subarray(0, -1));
  const excludes = embeddedRepos.map((path) =>
    Buffer.concat([Buffer.from(':(exclude,literal)'), path]),
  );
  let addArgs: string[];
  let addInput: Buffer | undefined;
  if (scope === undefined) {
    addArgs =
      embeddedRepos.length === 0
        ? ['add', '-A']
        : ['add', '-A', '--pathspec-from-file=-', '--pathspec-file-nul'];
    addInput = embeddedRepos.length === 0 ? undefined : nulJoin([Buffer.from('.'), ...excludes]);
  } else {
    const roots = rootsToStage(scope.roots, untracked);
    if (roots.length === 0) return { embeddedRepos, refused: [] };
    addArgs = ['add', '-A', '--pathspec-from-file=-', '--pathspec-file-nul'];
    addInput = nulJoin([...roots.map((root) => Buffer.concat([LITERAL, root])), ...excludes]);
  }

  const first = await git(addArgs, addInput, [0, 1, 128]);
  // Scoped, exit 1 is success too: a root below an ignored directory (a tracked file in
  // `build/` when `.gitignore` says `build/`) makes git report that directory as "ignored"
  // and exit 1 after staging and writing everything else; without --ignore-errors any real
  // failure to add is fatal (128). The full-tree `add -A` names no path, so never sees it.
  // Retrying would be wrong, not just slow: a deletion staged by the first run makes its
  // root match nothing any more, and git dies on that.
  if (first.exitCode === 0 || (scope !== undefined && first.exitCode === 1))
    return { embeddedRepos, refused: [] };

  // Record everything git accepts, then find out what it did not.
  const retry = await git(
    [...addArgs.slice(0, 1), '--ignore-errors', ...addArgs.slice(1)],
    addInput,
    [0, 1],
  );
  // Scoped, only paths under a root count: the index of an overlay workspace has no stat data,
  // so when `limit` could not be passed (see pathspecArguments), diff-files lists every base
  // file as stat-dirty; those outside the roots are the base, untouched by construction.
  const unrecordedTracked = splitNul(
    (await git(['diff-files', '--name-only', '-z', ...limit])).stdout,
  ).filter((path) => scope === undefined || isUnderRoot(path, scope.roots));
  if (unrecordedTracked.length > 0) {
    const named = unrecordedTracked.slice(0, 10).map((path) => path.toString('utf8'));
    throw new AasError(
      'INTERNAL',
      `cannot record changes to ${named.join(', ')}: ${retry.stderr.trim()}`,
      {
        hint: 'the workspace holds changes git cannot read; the patch would not match what the agent left',
      },
    );
  }
  const refused = splitNul(
    (await git(['ls-files', '-z', '--others', '--exclude-standard', ...limit])).stdout,
  ).filter((path) => path[path.length - 1] !== SLASH);
  return { embeddedRepos, refused };
}

/** Roots the base has, and roots holding an untracked file the ignore rules let through. */
function rootsToStage(roots: readonly ChangedRoot[], untracked: readonly Buffer[]): Buffer[] {
  const holdsUntracked = new Set<string>();
  for (const path of untracked) {
    let end = path[path.length - 1] === SLASH ? path.length - 1 : path.length;
    while (end > 0) {
      const key = path.subarray(0, end).toString('latin1');
      if (holdsUntracked.has(key)) break;
      holdsUntracked.add(key);
      end = path.lastIndexOf(SLASH, end - 1);
    }
  }
  return roots
    .filter((root) => root.inBase || holdsUntracked.has(root.path.toString('latin1')))
    .map((root) => root.path);
}

/**
 * Whether an untracked path can exist in the scope at all. Not when every root is a deletion
 * or a tracked file rewritten in place, the common case of an agent editing existing files:
 * outside the roots is the base, so the untracked listings are skipped (one git start and one
 * index read each: ~18 ms together at 100,000 files, bench/README.md).
 */
export function mayHoldUntracked(scope: StageScope): boolean {
  return scope.roots.some((root) => root.mayHoldUntracked);
}

function isUnderRoot(path: Buffer, roots: readonly ChangedRoot[]): boolean {
  return roots.some(
    (root) =>
      path.equals(root.path) ||
      (path.length > root.path.length &&
        path[root.path.length] === SLASH &&
        path.subarray(0, root.path.length).equals(root.path)),
  );
}

/**
 * `-- :(literal)<root>…` for commands that take pathspecs only as arguments, or no limit at
 * all (the whole tree: the same answer, just slower) when they cannot be passed that way: a
 * name that is not UTF-8 cannot be an argument string, and the list must fit the kernel's limits.
 */
export function pathspecArguments(roots: readonly Buffer[]): string[] {
  let bytes = 0;
  const args = ['--'];
  for (const root of roots) {
    const text = root.toString('utf8');
    bytes += root.length + LITERAL.length + 1;
    if (bytes > MAX_ARGUMENT_PATHSPEC_BYTES || !Buffer.from(text, 'utf8').equals(root)) return [];
    args.push(`:(literal)${text}`);
  }
  return args;
}
