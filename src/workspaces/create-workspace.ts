import { mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AasError, normaliseError } from '../kernel/index.js';
import { rememberCheckedOutBase } from './checked-out-bases.js';
import { ensureCachedCheckout } from './checkout-cache.js';
import { forceRemove } from './force-remove.js';
import { isKnownCommit } from './known-commits.js';
import { workspaceStrategySupport } from './overlay-support.js';
import { removeWorkspaceIn } from './remove-workspace.js';
import { resolveCommit } from './resolve-commit.js';
import { runGit } from './run-git.js';
import { mountOverlay, overlayPathProblem } from './run-mount.js';
import type { RunGit, Workspace } from './types.js';
import {
  baseIndexPath,
  OVERLAY_WORK_DIR_NAME,
  overlayMarkerPath,
  UPPER_DIR_NAME,
  WORKSPACE_DIR_NAME,
} from './workspace-layout.js';

/** `auto` (the default) uses overlay when this host can, and falls back to worktree. */
export type WorkspaceStrategyChoice = 'auto' | 'overlay' | 'worktree';

export interface CreateWorkspaceOptions {
  /** The commit to check out: `BaseResolution.baseCommit`. */
  readonly baseCommit: string;
  /** The attempt's own directory; the workspace becomes `<attemptDir>/workspace`. */
  readonly attemptDir: string;
  /**
   * Parallel checkout processes (default 4). Writing files is I/O-bound, so more workers than
   * cores still helps: 20,000 files (82 MB) on a 2-core VM took 9.4–13.3 s with 1 worker,
   * 4.6–5.2 s with 2 and 3.4–5.1 s with 4 right after a `sync` (writeback-bound); ~0.3 s with
   * either 2 or 4 when the disk keeps up. Used by a worktree checkout and by a cache build.
   */
  readonly checkoutWorkers?: number;
  /** Default `auto`. */
  readonly strategy?: WorkspaceStrategyChoice;
  /**
   * Where overlay workspaces keep one read-only checkout per base commit, shared by every run
   * (e.g. `<AAS_HOME>/cache/checkouts`). Without it, `auto` means worktree.
   */
  readonly checkoutCacheDir?: string;
}

const DEFAULT_CHECKOUT_WORKERS = 4;

/**
 * Gives the attempt `<attemptDir>/workspace` holding the files of `baseCommit` and nothing
 * else: no `.git`, no gitfile, no worktree registration in the user's repository. Attributes
 * are neutralised by the private git dir, so every file holds exactly its blob's bytes
 * whatever `.gitattributes` says. Two strategies:
 *
 * - **overlay**: an overlayfs mount whose lower layer is the cached checkout of the commit
 *   (built once per commit and shared, see ensureCachedCheckout) and whose upper layer is
 *   `<attemptDir>/upper`. Preparing it is a few directories and one mount whatever the size
 *   of the repository: 7.5 ms median at 1,000 files, 10.0 ms at 100,000 (bench/README.md),
 *   where a checkout writes every file (0.34 s and 17.9 s). computePatch then reads the upper
 *   layer to find what changed instead of looking at every file.
 * - **worktree**: one `read-tree -u` writes the whole tree (git's parallel checkout, no
 *   per-file work in JS); the index it leaves at `<attemptDir>/base.index` (outside the
 *   workspace, so the agent cannot touch it) is the stat cache that makes computePatch fast.
 *
 * `auto` takes overlay when workspaceStrategySupport() says this host can mount one and a
 * cache directory is given, and falls back to worktree, saying why in `strategyReason`, when
 * it cannot, including when the mount itself fails (an attempt directory on a file system
 * that cannot be an upper layer). Both produce byte-identical patches for the same changes.
 */
export async function createWorkspace(
  git: RunGit,
  options: CreateWorkspaceOptions,
): Promise<Workspace> {
  const attemptDir = resolve(options.attemptDir);
  const env = { searchPath: git.searchPath, gitDir: git.gitDir };
  const workers = Math.max(1, Math.floor(options.checkoutWorkers ?? DEFAULT_CHECKOUT_WORKERS));
  const strategy = options.strategy ?? 'auto';

  // The base resolveBase returned for this RunGit is a commit already; only another id is
  // verified here (a `rev-parse` per attempt, ~3.5 ms, when it was done unconditionally).
  const remembered = isKnownCommit(git, options.baseCommit);
  const baseCommit = remembered
    ? options.baseCommit
    : await resolveCommit(env, git.gitDir, options.baseCommit);
  if (baseCommit === null) throw unknownBase(options.baseCommit);

  await mkdir(attemptDir, { recursive: true });
  // A leftover from a crashed earlier try of this attempt is ours to replace (unmounted first).
  await removeWorkspaceIn(attemptDir);
  const common = {
    dir: join(attemptDir, WORKSPACE_DIR_NAME),
    gitDir: git.gitDir,
    baseCommit,
    attemptDir,
    repoRoot: git.repoRoot,
    searchPath: git.searchPath,
  };

  if (strategy === 'worktree') return createWorktree(git, common, workers, remembered, undefined);
  const cacheDir = options.checkoutCacheDir;
  if (cacheDir === undefined) {
    if (strategy === 'overlay') {
      throw new AasError('INVALID_ARGUMENT', "strategy 'overlay' needs a checkoutCacheDir", {
        field: 'checkoutCacheDir',
        hint: 'pass the directory that holds the cached checkouts, e.g. <AAS_HOME>/cache/checkouts',
      });
    }
    const reason = 'no checkout cache directory was given (checkoutCacheDir)';
    return createWorktree(git, common, workers, remembered, reason);
  }
  const refusal = await overlayRefusal(cacheDir, attemptDir);
  if (refusal !== null) {
    if (strategy === 'overlay') throw overlayUnavailable(refusal);
    return createWorktree(git, common, workers, remembered, refusal);
  }
  try {
    const cacheIndex = await mountOverlayWorkspace(git, attemptDir, cacheDir, baseCommit, workers);
    const ws: Workspace = {
      ...common,
      strategy: 'overlay',
      upperDir: join(attemptDir, UPPER_DIR_NAME),
    };
    rememberCheckedOutBase(ws, cacheIndex);
    return ws;
  } catch (thrown) {
    await removeWorkspaceIn(attemptDir);
    if (strategy === 'overlay') {
      if (remembered && (await resolveCommit(env, git.gitDir, baseCommit)) === null)
        throw unknownBase(baseCommit);
      throw thrown;
    }
    const reason = `overlay workspace failed, using a worktree: ${normaliseError(thrown).message}`;
    return createWorktree(git, common, workers, remembered, reason);
  }
}

/** Why an overlay workspace cannot be made here, or null when it can be tried. */
async function overlayRefusal(cacheDir: string, attemptDir: string): Promise<string | null> {
  const support = await workspaceStrategySupport();
  if (!support.overlay) return support.reason;
  for (const path of [resolve(cacheDir), attemptDir]) {
    const problem = overlayPathProblem(path);
    if (problem !== null) return problem;
  }
  return null;
}

/**
 * Mounts `<attemptDir>/workspace` over the cached checkout and returns the cache's index.
 * The marker naming the cached checkout is written before the mount, so a crash at any point
 * leaves an attempt directory that orphan collection recognises. A cached checkout that
 * disappears between being found and being mounted (`aas gc` evicted it) is built again once.
 */
async function mountOverlayWorkspace(
  git: RunGit,
  attemptDir: string,
  cacheDir: string,
  baseCommit: string,
  workers: number,
): Promise<string> {
  const real = await realpath(attemptDir);
  const upper = join(real, UPPER_DIR_NAME);
  const work = join(real, OVERLAY_WORK_DIR_NAME);
  const target = join(real, WORKSPACE_DIR_NAME);
  await Promise.all([mkdir(upper), mkdir(work), mkdir(target)]);
  for (let attempt = 1; ; attempt += 1) {
    const cached = await ensureCachedCheckout(git, cacheDir, baseCommit, workers);
    await writeFile(overlayMarkerPath(real), `${cached.dir}\n`);
    try {
      await mountOverlay({ lower: cached.tree, upper, work, target });
      return cached.index;
    } catch (thrown) {
      const stillThere = await realpath(cached.tree).then(
        () => true,
        () => false,
      );
      if (stillThere || attempt > 1) throw thrown;
    }
  }
}

async function createWorktree(
  git: RunGit,
  common: Omit<Workspace, 'strategy' | 'strategyReason' | 'upperDir'>,
  workers: number,
  remembered: boolean,
  strategyReason: string | undefined,
): Promise<Workspace> {
  const { dir, attemptDir, baseCommit } = common;
  const indexFile = baseIndexPath(attemptDir);
  const env = { searchPath: git.searchPath, gitDir: git.gitDir };
  await mkdir(dir);
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
    ...common,
    strategy: 'worktree',
    ...(strategyReason === undefined ? {} : { strategyReason }),
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

/**
 * `strategy: 'overlay'` on a host that cannot mount one. SANDBOX_UNAVAILABLE is the code for
 * "the caller requires isolation this host cannot provide" (exit `blocked`, HTTP 409: change
 * the host or the request), which is exactly this; INTERNAL would report a defect in AAS, and
 * CONFIG_INVALID would blame a setting that is valid on a host that supports it.
 */
function overlayUnavailable(reason: string): AasError {
  return new AasError('SANDBOX_UNAVAILABLE', `overlay workspaces are unavailable: ${reason}`, {
    field: 'strategy',
    hint: "use strategy 'auto' to fall back to a worktree checkout, or run where overlayfs can be mounted (Linux, CAP_SYS_ADMIN)",
  });
}
