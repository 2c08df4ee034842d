import { runGit, splitNul } from './run-git.js';
import type { RunGit } from './types.js';

/** One `git status` entry: what a commit of the working tree would change, relative to HEAD. */
export interface DirtyEntry {
  readonly path: string;
  /** The path's bytes as git gave them, for feeding back to git losslessly. */
  readonly raw: Buffer;
  /** Porcelain v1 `X` (index vs HEAD) and `Y` (work tree vs index). */
  readonly index: string;
  readonly worktree: string;
}

export interface ListDirtyOptions {
  /** The host user's global ignore file (see ResolveBaseOptions.userExcludesFile). */
  readonly userExcludesFile?: string;
  /** List untracked files too (each file individually), or tracked changes only. */
  readonly untracked: boolean;
  /** Git pathspecs limiting the listing; none = the whole working tree. */
  readonly pathspecs?: readonly string[];
}

/**
 * Tracked modifications, staged changes and (optionally) untracked files that are not
 * ignored, each file listed individually. Submodules count only when their checked-out commit
 * moved (`--ignore-submodules=dirty`), because that is all a snapshot commit could record.
 * `GIT_OPTIONAL_LOCKS=0` (set for every git process) keeps status from rewriting the index.
 * Paths are relative to the repository root whatever the pathspecs: porcelain output ignores
 * `status.relativePaths`.
 */
export async function listDirtyEntries(
  git: RunGit,
  options: ListDirtyOptions,
): Promise<DirtyEntry[]> {
  const excludes =
    options.userExcludesFile === undefined
      ? []
      : ['-c', `core.excludesFile=${options.userExcludesFile}`];
  const pathspecs = options.pathspecs ?? [];
  const result = await runGit({
    args: [
      ...excludes,
      'status',
      '--porcelain=v1',
      '-z',
      options.untracked ? '--untracked-files=all' : '--untracked-files=no',
      '--no-renames',
      '--ignore-submodules=dirty',
      ...(pathspecs.length === 0 ? [] : ['--', ...pathspecs]),
    ],
    cwd: git.repoRoot,
    env: { searchPath: git.searchPath, gitDir: git.repoGitDir, workTree: git.repoRoot },
  });
  const entries: DirtyEntry[] = [];
  for (const field of splitNul(result.stdout)) {
    if (field.length < 4) continue;
    const raw = field.subarray(3);
    entries.push({
      path: raw.toString('utf8'),
      raw,
      index: String.fromCharCode(field[0] ?? 32),
      worktree: String.fromCharCode(field[1] ?? 32),
    });
  }
  return entries.sort((a, b) => Buffer.compare(a.raw, b.raw));
}
