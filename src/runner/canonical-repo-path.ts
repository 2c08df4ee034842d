import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';

/**
 * One spelling per repository: the real path of the top-level directory (the nearest one up
 * holding `.git`). `/x/r`, `/x/r/`, `/x/r/src` and a symlink to `/x/r` all name the same
 * repository, and everything keyed by repository (its daily model budget, how many of its runs
 * may run at once) must see one key. A path that does not exist, or holds no repository, is
 * returned as given: the run then fails with REPO_NOT_FOUND or REPO_NOT_GIT, naming it as typed.
 */
export function canonicalRepoPath(repo: string): string {
  if (!isAbsolute(repo)) return repo;
  let real: string;
  try {
    real = realpathSync(repo);
  } catch {
    return repo;
  }
  for (let dir = real; ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.git'))) return dir;
    if (dirname(dir) === dir) return repo;
  }
}
