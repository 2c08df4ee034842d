import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { AasError } from '../kernel/index.js';
import { runGit } from './run-git.js';

/** Where a user's checkout keeps things. Every path is absolute and symlink-free. */
export interface RepoLocation {
  /** The top level of the working tree. */
  readonly repoRoot: string;
  /** The checkout's git dir (for a linked worktree, its own, not the common one). */
  readonly gitDir: string;
  /** The object directory shared by all worktrees: the private run git dir borrows from it. */
  readonly objectsDir: string;
}

/**
 * Refuses a local path that is no git working tree (REPO_NOT_FOUND, REPO_NOT_GIT) before a run
 * is queued for it, as that run would fail with the same code later. Read-only, like
 * locateRepo, which it is.
 */
export async function checkLocalRepo(repo: string, searchPath: string): Promise<void> {
  await locateRepo(repo, searchPath);
}

/**
 * Finds the non-bare repository containing `repo`. Read-only: only `rev-parse` runs, which
 * neither writes nor executes anything the repository configures.
 */
export async function locateRepo(repo: string, searchPath: string): Promise<RepoLocation> {
  let real: string;
  try {
    const info = await stat(repo);
    if (!info.isDirectory()) {
      throw new AasError('REPO_NOT_GIT', `${repo} is a file, not a repository directory`, {
        field: 'repo',
        hint: 'pass the directory of a git checkout',
      });
    }
    real = await realpath(repo);
  } catch (thrown) {
    if (thrown instanceof AasError) throw thrown;
    throw new AasError('REPO_NOT_FOUND', `repository path ${repo} does not exist`, {
      field: 'repo',
      hint: 'pass the path of a local git checkout (clone the repository first if it is remote)',
    });
  }

  // One rev-parse answers everything (it was two: ~3.5 ms per git start). Its answers come out
  // in flag order and stdout is flushed when it dies, so in a bare repository or inside `.git`
  // the two probe lines are printed before `--show-toplevel` fails with "must be run in a work
  // tree", and they still say why the path was refused.
  const probe = await runGit({
    args: [
      'rev-parse',
      '--is-bare-repository',
      '--is-inside-git-dir',
      '--show-toplevel',
      '--absolute-git-dir',
      '--git-path',
      'objects',
    ],
    cwd: real,
    env: { searchPath },
    okExitCodes: [0, 128],
  });
  const [bare, insideGitDir, top, gitDir, objects] = probe.stdout
    .toString('utf8')
    .replace(/\n$/, '')
    .split('\n');
  if (bare === 'true' || insideGitDir === 'true') {
    throw new AasError(
      'REPO_NOT_GIT',
      `${repo} is a bare repository or a .git directory, not a working tree`,
      {
        field: 'repo',
        hint: 'pass the path of a checkout with a working tree (e.g. `git clone <bare> <dir>`)',
      },
    );
  }
  if (probe.exitCode !== 0) {
    const why = probe.stderr.trim().split('\n')[0] ?? '';
    if (why.includes('dubious ownership')) {
      // git refuses a repository another user owns: its config and hooks could run as us.
      throw new AasError(
        'REPO_NOT_GIT',
        `${repo} belongs to another user, and git refuses to read it as this one (${why})`,
        {
          field: 'repo',
          hint: `run AAS as the repository's owner, or, if you trust that user's config and hooks, mark it safe: git config --global --add safe.directory ${real}`,
        },
      );
    }
    throw new AasError('REPO_NOT_GIT', `${repo} is not a git repository (${why})`, {
      field: 'repo',
      hint: 'run `git init` and commit, or pass the path of an existing checkout',
    });
  }
  if (top === undefined || gitDir === undefined || objects === undefined) {
    throw new AasError('INTERNAL', `unexpected output from git rev-parse in ${real}`);
  }
  return {
    repoRoot: await realpath(top),
    gitDir: await realpath(gitDir),
    // `--git-path` answers relative to the cwd unless the repository says otherwise.
    objectsDir: await realpath(isAbsolute(objects) ? objects : resolve(real, objects)),
  };
}
