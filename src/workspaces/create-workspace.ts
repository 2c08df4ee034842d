import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AasError } from '../kernel/index.js';
import { rememberCheckedOutBase } from './checked-out-bases.js';
import { forceRemove } from './force-remove.js';
import { isKnownCommit } from './known-commits.js';
import { resolveCommit } from './resolve-commit.js';
import { runGit } from './run-git.js';
import type { RunGit, Workspace } from './types.js';
import { baseIndexPath, WORKSPACE_DIR_NAME } from './workspace-layout.js';

export interface CreateWorkspaceOptions {
  /** The commit to check out: `BaseResolution.baseCommit`. */
  readonly baseCommit: string;
  /** The attempt's own directory; the workspace becomes `<attemptDir>/workspace`. */
  readonly attemptDir: string;
  /**
   * Parallel checkout processes (default 4). Writing files is I/O-bound, so more workers than
   * cores still helps: 20,000 files (82 MB) on a 2-core VM took 9.4–13.3 s with 1 worker,
   * 4.6–5.2 s with 2 and 3.4–5.1 s with 4 right after a `sync` (writeback-bound); ~0.3 s with
   * either 2 or 4 when the disk keeps up.
   */
  readonly checkoutWorkers?: number;
}

const DEFAULT_CHECKOUT_WORKERS = 4;

/**
 * Fills `<attemptDir>/workspace` with the files of `baseCommit`, and nothing else: no `.git`,
 * no gitfile, no worktree registration in the user's repository. One `read-tree -u` writes the
 * whole tree (git's parallel checkout, no per-file work in JS); the index it leaves at
 * `<attemptDir>/base.index` (outside the workspace, so the agent cannot touch it) is the stat
 * cache that makes `computePatch` fast. Attributes are neutralised by the private git dir, so
 * every file holds exactly its blob's bytes whatever `.gitattributes` says.
 */
export async function createWorkspace(
  git: RunGit,
  options: CreateWorkspaceOptions,
): Promise<Workspace> {
  const attemptDir = resolve(options.attemptDir);
  const dir = join(attemptDir, WORKSPACE_DIR_NAME);
  const indexFile = baseIndexPath(attemptDir);
  const env = { searchPath: git.searchPath, gitDir: git.gitDir };

  // The base resolveBase returned for this RunGit is a commit already; only another id is
  // verified here (a `rev-parse` per attempt, ~3.5 ms, when it was done unconditionally).
  const remembered = isKnownCommit(git, options.baseCommit);
  const baseCommit = remembered
    ? options.baseCommit
    : await resolveCommit(env, git.gitDir, options.baseCommit);
  if (baseCommit === null) throw unknownBase(options.baseCommit);

  await mkdir(attemptDir, { recursive: true });
  // A leftover from a crashed earlier try of this attempt is ours to replace.
  await forceRemove(dir);
  await rm(indexFile, { force: true });
  await mkdir(dir);
  const workers = Math.max(1, Math.floor(options.checkoutWorkers ?? DEFAULT_CHECKOUT_WORKERS));
  try {
    await runGit({
      args: ['-c', `checkout.workers=${workers}`, 'read-tree', '-u', '--reset', baseCommit],
      cwd: dir,
      env: { ...env, workTree: dir, indexFile },
    });
  } catch (thrown) {
    await forceRemove(dir);
    await rm(indexFile, { force: true });
    // A remembered commit that has since become unreadable (pruned from the user's store) is
    // still reported as the unknown base it now is.
    if (remembered && (await resolveCommit(env, git.gitDir, baseCommit)) === null)
      throw unknownBase(baseCommit);
    throw thrown;
  }
  const ws: Workspace = {
    dir,
    gitDir: git.gitDir,
    baseCommit,
    attemptDir,
    repoRoot: git.repoRoot,
    searchPath: git.searchPath,
  };
  rememberCheckedOutBase(ws, indexFile);
  return ws;
}

function unknownBase(commit: string): AasError {
  return new AasError(
    'BASE_REF_UNKNOWN',
    `base commit '${commit}' is not in the run's repository`,
    {
      field: 'baseCommit',
      hint: 'pass the baseCommit returned by resolveBase for the same RunGit',
    },
  );
}
