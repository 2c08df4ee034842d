import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { AasError } from '../kernel/index.js';
import { DEFAULT_GIT_SEARCH_PATH } from './git-env.js';
import { runGit, splitNul } from './run-git.js';

/**
 * The files under `dir` that the git repository around it tracks (paths relative to `dir`);
 * none when `dir` is in no work tree. No git runs unless a `.git` is found above `dir`.
 * CONFIG_INVALID when git refuses to read a checkout another user owns.
 */
export async function trackedFilesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir) || !insideWorkTree(dir)) return [];
  const result = await runGit({
    args: ['ls-files', '-z', '--', '.'],
    cwd: dir,
    env: { searchPath: DEFAULT_GIT_SEARCH_PATH },
    // 128: not a repository after all (a stray .git file, a bare directory).
    okExitCodes: [0, 128],
    timeoutMs: 30_000,
  });
  if (result.exitCode !== 0) {
    // A checkout another user owns: git will not say what it tracks, so nothing can be known
    // safe (and no other git command of AAS would work on it either).
    if (/dubious ownership/i.test(result.stderr)) {
      throw new AasError(
        'CONFIG_INVALID',
        `cannot tell which files the repository around ${dir} commits: git refuses a checkout another user owns`,
        {
          field: 'AAS_HOME',
          hint: 'run as the owner of the checkout, or set AAS_HOME (or --home) to a directory outside it',
        },
      );
    }
    return [];
  }
  return splitNul(result.stdout)
    .map((path) => path.toString('utf8'))
    .filter(Boolean);
}

function insideWorkTree(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(`${current}/.git`)) return true;
    if (dirname(current) === current) return false;
  }
}
