import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { AasError } from '../kernel/index.js';

/**
 * The repo-relative form (`/`-separated, no trailing slash) of each directory in `paths` that
 * lies strictly inside `repoRoot` (a realpath). Paths are compared as realpaths, so a home
 * named through a symlink (macOS `/tmp` → `/private/tmp`, a linked checkout) still matches;
 * a path that does not exist yet is resolved through its nearest existing ancestor. A path
 * outside the repository, or the repository root itself, yields nothing: excluding the root
 * would hide every real change, so such a setup keeps reporting its files as dirty instead.
 */
export async function repoRelativeDirs(
  repoRoot: string,
  paths: readonly string[],
): Promise<string[]> {
  const dirs = new Set<string>();
  for (const path of paths) {
    if (!isAbsolute(path)) {
      throw new AasError('INVALID_ARGUMENT', `excluded path ${path} is not absolute`, {
        field: 'excludePaths',
      });
    }
    const rel = relative(repoRoot, await realpathOfNearest(path));
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) continue;
    dirs.add(rel.split(sep).join('/'));
  }
  return [...dirs].sort();
}

/**
 * `realpath` of `path`, or of its nearest resolvable ancestor joined with the rest (a home not
 * created yet, or one behind an unreadable component, is still placed as well as it can be).
 */
async function realpathOfNearest(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (thrown) {
    const parent = dirname(path);
    if (parent === path) throw thrown;
    return join(await realpathOfNearest(parent), basename(path));
  }
}
