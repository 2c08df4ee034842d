import { DEFAULT_GIT_SEARCH_PATH } from './git-env.js';
import { locateRepo } from './locate-repo.js';
import { runGit } from './run-git.js';

/**
 * The branch a local checkout is on (its HEAD), or null when it is detached or the path is no
 * repository (whoever reads the repository next says why, with the precise code).
 */
export async function checkedOutBranchAt(repo: string): Promise<string | null> {
  let located: Awaited<ReturnType<typeof locateRepo>>;
  try {
    located = await locateRepo(repo, DEFAULT_GIT_SEARCH_PATH);
  } catch {
    return null;
  }
  const result = await runGit({
    args: ['symbolic-ref', '--quiet', '--short', 'HEAD'],
    cwd: located.repoRoot,
    env: { searchPath: DEFAULT_GIT_SEARCH_PATH, gitDir: located.gitDir },
    okExitCodes: [0, 1, 128],
  });
  const branch = result.stdout.toString('utf8').trim();
  return result.exitCode === 0 && branch !== '' ? branch : null;
}
