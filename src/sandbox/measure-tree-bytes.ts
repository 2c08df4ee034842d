import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What every entry counts at least: an inode is disk too. Empty files and fast symlinks take no
 * data block, so without a floor 200,000 empty files grew a workspace by 0 bytes (measured),
 * and a run could use up the host's inodes inside any byte cap. A non-empty file or a directory
 * takes a 4 KiB block on common file systems anyway, so this changes nothing for them.
 */
const MIN_ENTRY_BYTES = 4096;

/**
 * Disk bytes under `paths`, not following symlinks. A file counts as the larger of its length
 * and its allocated blocks, so a sparse file claiming a terabyte counts as a terabyte: the cap
 * fails closed; and every entry as at least MIN_ENTRY_BYTES. Entries that vanish mid-walk are
 * skipped (the process is still running). Stops early, returning a value above `stopAbove`,
 * once the total passes it.
 */
export async function measureTreeBytes(
  paths: readonly string[],
  stopAbove = Number.POSITIVE_INFINITY,
): Promise<number> {
  let total = 0;
  const pending = [...paths];
  while (pending.length > 0) {
    const path = pending.pop();
    if (path === undefined) break;
    let stats: Awaited<ReturnType<typeof lstat>>;
    try {
      stats = await lstat(path);
    } catch {
      continue;
    }
    total += Math.max(stats.size, stats.blocks * 512, MIN_ENTRY_BYTES);
    if (total > stopAbove) return total;
    if (!stats.isDirectory()) continue;
    let names: string[];
    try {
      names = await readdir(path);
    } catch (error) {
      // Gone meanwhile is fine; a directory made unreadable to hide its bytes counts as over.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      return Number.POSITIVE_INFINITY;
    }
    for (const name of names) pending.push(join(path, name));
  }
  return total;
}
