import { randomBytes } from 'node:crypto';
import { lstat, readdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { forceRemove } from './force-remove.js';

/** Touched at every use of a cache repository: its age is what eviction goes by. */
const USED_NAME = 'aas-used';
const EVICT_PREFIX = '.evict-';
/** `openBaseCache` initialises a cache aside under this suffix; one this old was abandoned. */
const INIT_INFIX = '.init-';
const STALE_INIT_MS = 60 * 60 * 1000;
/** Keys of cache repositories: a URL's SHA-256 (64 hex) or a control plane's base key (32). */
const CACHE_KEY = /^[0-9a-f]{16,64}$/;

export interface RepoCacheCollection {
  /** Cache repositories deleted. */
  readonly removed: readonly string[];
  /** Kept: a live run uses it, or it was used within the age limit. */
  readonly kept: readonly string[];
}

/**
 * Marks the cache repository at `path` used now (see collectRepoCaches); false when there is
 * no repository there.
 */
export async function markRepoCacheUsed(path: string): Promise<boolean> {
  const used = join(path, '.git', USED_NAME);
  const now = new Date();
  try {
    await utimes(used, now, now);
    return true;
  } catch {
    // A cache from before the marker, or none at all: writing fails when `.git` is missing.
    return writeFile(used, '').then(
      () => true,
      () => false,
    );
  }
}

/**
 * Deletes cache repositories (URL caches, a worker's base caches) that no live run uses and
 * that were last used `olderThanMs` ago or more. A run's private git dir borrows the objects of
 * the cache it started from for as long as it runs, so `keepKeys` must name the cache of every
 * live run. Eviction renames the repository away first, so a fetch starting at that moment
 * makes a fresh cache rather than writing into one being deleted, and puts it back if it was
 * marked used in between.
 */
export async function collectRepoCaches(
  cacheDir: string,
  options: {
    keepKeys: ReadonlySet<string>;
    olderThanMs: number;
    nowMs: number;
    /**
     * Called between the look at an idle cache and its move, the moment a run opening that
     * cache races the collector: tests open it here to make the race happen.
     */
    beforeMove?: (name: string) => Promise<void>;
  },
): Promise<RepoCacheCollection> {
  const removed: string[] = [];
  const kept: string[] = [];
  let names: string[];
  try {
    names = (await readdir(cacheDir)).sort();
  } catch {
    return { removed, kept };
  }
  for (const name of names) {
    const path = join(cacheDir, name);
    if (CACHE_KEY.test(name)) {
      if (options.keepKeys.has(name)) {
        kept.push(name);
        continue;
      }
      const lastUsedMs = await lastUsed(path);
      if (lastUsedMs === null || options.nowMs - lastUsedMs < options.olderThanMs) {
        kept.push(name);
        continue;
      }
      await options.beforeMove?.(name);
      const evicted = join(cacheDir, `${EVICT_PREFIX}${name}-${randomBytes(6).toString('hex')}`);
      try {
        await rename(path, evicted);
      } catch {
        continue;
      }
      // A run may have opened it between the look and the move (it marks the cache first): put
      // it back then. A run opening it after the move finds nothing and makes a fresh cache.
      const lastLookMs = await lastUsed(evicted);
      if (lastLookMs !== null && lastLookMs !== lastUsedMs) {
        const restored = await rename(evicted, path).then(
          () => true,
          () => false,
        );
        if (restored) {
          kept.push(name);
          continue;
        }
      }
      await forceRemove(evicted);
      removed.push(name);
    } else if (name.startsWith(EVICT_PREFIX)) {
      // An eviction interrupted after its rename.
      await forceRemove(path);
    } else if (name.includes(INIT_INFIX)) {
      const info = await lstat(path).catch(() => null);
      if (info !== null && options.nowMs - info.mtimeMs >= STALE_INIT_MS) await forceRemove(path);
    }
  }
  return { removed, kept };
}

/** When the cache was last used: its marker, else (older caches) its git dir. Null if unreadable. */
async function lastUsed(path: string): Promise<number | null> {
  for (const candidate of [join(path, '.git', USED_NAME), join(path, '.git')]) {
    const info = await stat(candidate).catch(() => null);
    if (info !== null) return info.mtimeMs;
  }
  return null;
}
