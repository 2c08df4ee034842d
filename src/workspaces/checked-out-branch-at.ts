import { DEFAULT_GIT_SEARCH_PATH } from './git-env.js';
import { locateRepo } from './locate-repo.js';
import { runGit } from './run-git.js';

/**
 * What a local checkout has checked out: `{ branch }` (its short name), `{ detached: true }`, or
 * null when that cannot be told (no repository there, git failing): whoever reads the
 * repository next says why, with the precise code. The full ref is read and stripped, since
 * `--short` prints `heads/main` where a tag `main` exists too.
 */
export async function checkedOutBranchAt(
  repo: string,
): Promise<{ readonly branch: string } | { readonly detached: true } | null> {
  try {
    const located = await locateRepo(repo, DEFAULT_GIT_SEARCH_PATH);
    const result = await runGit({
      args: ['symbolic-ref', '--quiet', 'HEAD'],
      cwd: located.repoRoot,
      env: { searchPath: DEFAULT_GIT_SEARCH_PATH, gitDir: located.gitDir },
      okExitCodes: [0, 1],
    });
    if (result.exitCode === 1) return { detached: true };
    const ref = result.stdout.toString('utf8').trim();
    return ref.startsWith('refs/heads/') && ref.length > 'refs/heads/'.length
      ? { branch: ref.slice('refs/heads/'.length) }
      : null;
  } catch {
    return null;
  }
}
