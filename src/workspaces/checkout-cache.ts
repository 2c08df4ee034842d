import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, realpath, rename, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AasError } from '../kernel/index.js';
import { forceRemove } from './force-remove.js';
import type { GitEnvOptions } from './git-env.js';
import { overlayLowerDirs, readMountTable } from './mount-table.js';
import { runGit } from './run-git.js';
import type { RunGit } from './types.js';

/** One cached checkout: `<cache>/<commit>/`, complete from the moment it has that name. */
export interface CachedCheckout {
  /** `<cache>/<commit>` (realpath). */
  readonly dir: string;
  /** `<dir>/tree`: the files of the commit; the read-only lower layer of every overlay on it. */
  readonly tree: string;
  /** `<dir>/index`: an index of exactly the commit's tree, without stat data (see buildCheckout). */
  readonly index: string;
  /** True when this call built it, false when it was already there. */
  readonly built: boolean;
}

export interface CheckoutCacheCollection {
  /** Commits whose cached checkout was deleted. */
  readonly removed: readonly string[];
  /** Commits kept: in `keepCommits`, or used more recently than `olderThanMs`. */
  readonly kept: readonly string[];
  /** Commits kept because an overlay mount of this process's namespace is layered on them. */
  readonly inUse: readonly string[];
  /** Leftovers of interrupted builds and evictions that were deleted (directory names). */
  readonly discarded: readonly string[];
}

export interface CollectCheckoutCacheOptions {
  /** Commits a live run may still mount (their checkouts are never collected). */
  readonly keepCommits: ReadonlySet<string>;
  /** Keep checkouts an attempt mounted less than this long ago (default: no age limit). */
  readonly olderThanMs?: number;
  readonly nowMs: number;
}

const COMMIT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const TREE_NAME = 'tree';
const INDEX_NAME = 'index';
/** Touched at every mount: its mtime is when the checkout was last used (see collectCheckoutCache). */
const USED_NAME = 'used';
const BUILD_PREFIX = '.build-';
const EVICT_PREFIX = '.evict-';
/**
 * A `.build-*` directory this old is a crashed build, not a slow one: building a 100,000-file
 * checkout took 9.7–13.4 s on the reference VM (bench/README.md), and a build's directory
 * mtime is set in its first second (its entries are created then).
 */
const STALE_BUILD_MS = 60 * 60 * 1000;

export function isCommitId(value: string): boolean {
  return COMMIT_ID.test(value);
}

/**
 * The cached read-only checkout of `commit` under `cacheDir`, built on first use. A build goes
 * to a private `.build-<commit>-<random>` directory that is renamed to `<commit>` when complete:
 * rename(2) of a directory onto an existing non-empty one fails, so of two processes building
 * the same commit at once exactly one wins, the other discards its copy and uses the winner's,
 * and a reader never sees a half-written checkout.
 */
export async function ensureCachedCheckout(
  git: RunGit,
  cacheDir: string,
  commit: string,
  checkoutWorkers: number,
): Promise<CachedCheckout> {
  if (!isCommitId(commit)) {
    throw new AasError('INTERNAL', `not a full commit id: ${JSON.stringify(commit)}`);
  }
  await mkdir(cacheDir, { recursive: true });
  const root = await realpath(resolve(cacheDir));
  const dir = join(root, commit);
  const found = await existingCheckout(dir);
  if (found !== null) return found;

  const temp = join(root, `${BUILD_PREFIX}${commit}-${randomBytes(6).toString('hex')}`);
  try {
    await buildCheckout(git, temp, commit, checkoutWorkers);
    try {
      await rename(temp, dir);
    } catch (thrown) {
      const code = (thrown as { code?: unknown }).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw thrown;
      // Another builder won the race; its checkout is the same commit, byte for byte.
      const winner = await existingCheckout(dir);
      if (winner === null) throw thrown;
      return winner;
    }
  } finally {
    await forceRemove(temp);
  }
  return { dir, tree: join(dir, TREE_NAME), index: join(dir, INDEX_NAME), built: true };
}

async function existingCheckout(dir: string): Promise<CachedCheckout | null> {
  const tree = join(dir, TREE_NAME);
  const index = join(dir, INDEX_NAME);
  const [treeInfo, indexInfo] = await Promise.all([
    lstat(tree).catch(() => null),
    lstat(index).catch(() => null),
  ]);
  if (treeInfo === null || !treeInfo.isDirectory() || indexInfo === null || !indexInfo.isFile())
    return null;
  await markUsed(dir);
  return { dir, tree, index, built: false };
}

async function markUsed(dir: string): Promise<void> {
  const used = join(dir, USED_NAME);
  const now = new Date();
  try {
    await utimes(used, now, now);
  } catch {
    await writeFile(used, '');
  }
}

/**
 * Writes the checkout with the run's private git dir, so attributes are neutralised exactly as
 * in a worktree workspace (bytes on disk are blob bytes). Two indexes come out of it:
 * - `read-tree -u`'s own, with stat data, is thrown away. Through overlayfs a copied-up file
 *   keeps the lower file's inode number (measured: `stat` of a modified file in the mount
 *   showed the lower inode, not the upper one's), so a same-size rewrite with its mtime put
 *   back could match that stat data in everything but ctime; one second of bad luck would
 *   hide it.
 * - a plain `read-tree` (no stat data at all) is the one kept. computePatch only ever lets git
 *   look at paths the upper layer holds, and with no stat data to match, git hashes every one
 *   of them: exact whatever the clock did. Lower files are never examined, so they need no stat
 *   data either. It also carries a complete cache-tree, which lets `git diff --cached` skip
 *   every untouched subtree instead of walking all 100,000 entries.
 */
async function buildCheckout(
  git: RunGit,
  temp: string,
  commit: string,
  checkoutWorkers: number,
): Promise<void> {
  const tree = join(temp, TREE_NAME);
  await mkdir(tree, { recursive: true });
  const env: GitEnvOptions = { searchPath: git.searchPath, gitDir: git.gitDir, workTree: tree };
  const workers = Math.max(1, Math.floor(checkoutWorkers));
  await Promise.all([
    runGit({
      args: ['-c', `checkout.workers=${workers}`, 'read-tree', '-u', '--reset', commit],
      cwd: tree,
      env: { ...env, indexFile: join(temp, 'checkout.index') },
    }),
    runGit({
      args: ['read-tree', commit],
      cwd: tree,
      env: { ...env, indexFile: join(temp, INDEX_NAME) },
    }),
  ]);
  await forceRemove(join(temp, 'checkout.index'));
  await writeFile(join(temp, USED_NAME), '');
}

/**
 * Deletes cached checkouts no run needs any more (for `aas gc`). A checkout stays when its
 * commit is in `keepCommits`, when it was mounted less than `olderThanMs` ago, or when an
 * overlay mount in this process's mount namespace is layered on it. Eviction first renames
 * the checkout away (no new mount can start on it after that; one that tries rebuilds it) and
 * only then looks at the mount table once more: a mount that slipped in between names the
 * original path, so the copy is left for a later pass rather than deleted under a live mount.
 * Mounts in other mount namespaces are invisible here: pass every live run's commit.
 */
export async function collectCheckoutCache(
  cacheDir: string,
  options: CollectCheckoutCacheOptions,
): Promise<CheckoutCacheCollection> {
  const removed: string[] = [];
  const kept: string[] = [];
  const inUse: string[] = [];
  const discarded: string[] = [];
  let root: string;
  try {
    root = await realpath(resolve(cacheDir));
  } catch {
    return { removed, kept, inUse, discarded };
  }
  const mountedLowers = async () => overlayLowerDirs(await readMountTable());
  const lowers = await mountedLowers();
  for (const name of (await readdir(root)).sort()) {
    const path = join(root, name);
    if (isCommitId(name)) {
      if (options.keepCommits.has(name)) {
        kept.push(name);
        continue;
      }
      if (lowers.has(join(path, TREE_NAME))) {
        inUse.push(name);
        continue;
      }
      if (options.olderThanMs !== undefined) {
        const lastUsed = await lastUsedMs(path);
        if (lastUsed === null || options.nowMs - lastUsed < options.olderThanMs) {
          kept.push(name);
          continue;
        }
      }
      const evicted = join(root, `${EVICT_PREFIX}${name}-${randomBytes(6).toString('hex')}`);
      try {
        await rename(path, evicted);
      } catch {
        continue;
      }
      if ((await mountedLowers()).has(join(path, TREE_NAME))) {
        inUse.push(name);
        continue;
      }
      await forceRemove(evicted);
      removed.push(name);
    } else if (name.startsWith(EVICT_PREFIX)) {
      // Deferred or interrupted eviction: deletable once nothing is mounted on that commit.
      const commit = name.slice(EVICT_PREFIX.length).split('-')[0] ?? '';
      if (lowers.has(join(root, commit, TREE_NAME))) continue;
      await forceRemove(path);
      discarded.push(name);
    } else if (name.startsWith(BUILD_PREFIX)) {
      const info = await lstat(path).catch(() => null);
      if (info === null || options.nowMs - info.mtimeMs < STALE_BUILD_MS) continue;
      await forceRemove(path);
      discarded.push(name);
    }
  }
  return { removed, kept, inUse, discarded };
}

async function lastUsedMs(dir: string): Promise<number | null> {
  const info =
    (await lstat(join(dir, USED_NAME)).catch(() => null)) ?? (await lstat(dir).catch(() => null));
  return info === null ? null : info.mtimeMs;
}
