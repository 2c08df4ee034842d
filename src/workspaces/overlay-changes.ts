import { lstat, readdir } from 'node:fs/promises';

/** Where the three views of one overlay workspace are. */
export interface OverlayViews {
  /** The cached checkout (read-only lower layer). */
  readonly lower: string;
  /** The attempt's upper layer: everything the agent created, changed, copied up or deleted. */
  readonly upper: string;
  /** The mount point (the workspace), where lower and upper are merged. */
  readonly merged: string;
}

/** A repo-relative path (raw bytes, `/`-separated) under which every visible entry comes from the upper layer. */
export interface ChangedRoot {
  readonly path: Buffer;
  /** Whether the base has anything at this path (a file, or a directory with entries below it). */
  readonly inBase: boolean;
  /**
   * False when no untracked path can be at or below it: a deletion (whiteout), or a file or
   * symlink where the base has a file or symlink too (that path is tracked).
   */
  readonly mayHoldUntracked: boolean;
}

/** The whole tree is upper-only (the agent replaced everything): no pathspec can narrow it. */
export const EVERYTHING = 'everything';

const SLASH = Buffer.from('/');

interface DirectoryScan {
  /** Some visible entry at or below this directory still comes from the lower layer. */
  readonly lowerVisible: boolean;
  readonly roots: ChangedRoot[];
}

/**
 * The smallest set of paths whose subtrees contain every change the agent made, found by
 * reading the upper layer (O(changes), not O(files)): each root is a subtree in which every
 * visible entry comes from the upper layer, and outside all roots the merged view is the lower
 * layer, i.e. the base. A root is one of:
 * - a non-directory in the upper layer: a created or modified file or symlink, or a whiteout
 *   (a character device 0:0: a deleted base path);
 * - a directory the base does not have as a directory (new, or replacing a file or symlink);
 * - a base directory that is opaque (removed and re-created: the lower entries are hidden
 *   without whiteouts, marked by a `trusted.overlay.opaque` xattr Node cannot read). Opacity
 *   hides all lower entries or none, so it shows as a base entry that the upper does not have
 *   and that the merged view does not show either: one lstat per directory tells;
 * - a base directory in which nothing of the lower layer is visible any more (every entry
 *   deleted, modified or itself such a root). Naming it as a whole rather than its entries is
 *   what keeps git's untracked listing identical to a full-tree one: a directory emptied of
 *   tracked files is listed by git as `dir/` only when it is walked as a whole.
 * With `redirect_dir=off` and `metacopy=off` (see run-mount.ts) there is no other way for
 * lower content to appear at a new path or for upper content to live elsewhere.
 */
export async function overlayChangedRoots(
  views: OverlayViews,
): Promise<ChangedRoot[] | typeof EVERYTHING> {
  const scan = await scanDirectory(views, Buffer.alloc(0));
  if (scan === 'opaque' || !scan.lowerVisible) return EVERYTHING;
  return scan.roots.sort((a, b) => Buffer.compare(a.path, b.path));
}

async function scanDirectory(views: OverlayViews, rel: Buffer): Promise<DirectoryScan | 'opaque'> {
  const at = (base: string) =>
    rel.length === 0 ? Buffer.from(base) : Buffer.concat([Buffer.from(base), SLASH, rel]);
  const child = (name: Buffer) => (rel.length === 0 ? name : Buffer.concat([rel, SLASH, name]));
  const [upperEntries, lowerNames] = await Promise.all([
    readdir(at(views.upper), { withFileTypes: true, encoding: 'buffer' }),
    readdir(at(views.lower), { encoding: 'buffer' }),
  ]);
  const inUpper = new Set(upperEntries.map((entry) => entry.name.toString('latin1')));
  const untouched = lowerNames.filter((name) => !inUpper.has(name.toString('latin1')));
  const firstUntouched = untouched[0];
  if (firstUntouched !== undefined) {
    const shown = await lstat(Buffer.concat([at(views.merged), SLASH, firstUntouched])).then(
      () => true,
      () => false,
    );
    if (!shown) return 'opaque';
  }
  let lowerVisible = untouched.length > 0;
  const roots: ChangedRoot[] = [];
  for (const entry of upperEntries) {
    const path = child(entry.name);
    const inLower = await lstat(Buffer.concat([at(views.lower), SLASH, entry.name])).catch(
      () => null,
    );
    if (!entry.isDirectory() || inLower === null || !inLower.isDirectory()) {
      const tracked =
        entry.isCharacterDevice() ||
        (!entry.isDirectory() && inLower !== null && !inLower.isDirectory());
      roots.push({ path, inBase: inLower !== null, mayHoldUntracked: !tracked });
      continue;
    }
    const sub = await scanDirectory(views, path);
    if (sub === 'opaque' || !sub.lowerVisible) {
      roots.push({ path, inBase: true, mayHoldUntracked: true });
    } else {
      lowerVisible = true;
      roots.push(...sub.roots);
    }
  }
  return { lowerVisible, roots };
}
