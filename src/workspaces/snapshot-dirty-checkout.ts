import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError } from '../kernel/index.js';
import type { GitEnvOptions } from './git-env.js';
import type { DirtyEntry } from './list-dirty-entries.js';
import { nulJoin, runGit } from './run-git.js';
import type { RunGit } from './types.js';

export const SNAPSHOT_IDENTITY = { name: 'AAS snapshot', email: 'aas@localhost' } as const;

/**
 * Records the dirty working tree as a commit on top of HEAD without writing anything the user
 * owns: the index is a temporary file seeded from HEAD, and `GIT_OBJECT_DIRECTORY` sends every
 * new blob, tree and commit to the run's private git dir (the user's objects stay readable as
 * an alternate). Only the paths `git status` reported are updated, so a sparse checkout's
 * absent files are not mistaken for deletions. `update-index --add --remove` adds, updates or
 * removes each path as the work tree has it, through the user's own clean/eol conversion, i.e.
 * exactly what `git commit -a` after `git add` of those paths would record. Identity and date
 * are fixed (the date is HEAD's), so the same dirty state always gives the same commit.
 */
export async function snapshotDirtyCheckout(
  git: RunGit,
  headCommit: string,
  entries: readonly DirtyEntry[],
): Promise<string> {
  const indexFile = join(git.gitDir, 'aas-tmp', `snapshot-${randomBytes(8).toString('hex')}.index`);
  const env: GitEnvOptions = {
    searchPath: git.searchPath,
    gitDir: git.repoGitDir,
    workTree: git.repoRoot,
    indexFile,
    objectDirectory: join(git.gitDir, 'objects'),
    alternateObjectDirectories: [git.repoObjectsDir],
  };
  const call = (args: readonly string[], input?: Buffer) =>
    runGit({ args, cwd: git.repoRoot, env, ...(input === undefined ? {} : { input }) });
  try {
    await call(['read-tree', headCommit]);
    // An untracked nested repository is reported as `dir/`; a commit can only point at it as a
    // submodule, which is not a snapshot of its files, so it is left out.
    const paths = entries
      .filter((entry) => entry.raw[entry.raw.length - 1] !== 0x2f)
      .map((entry) => entry.raw);
    if (paths.length > 0) {
      await call(
        ['update-index', '--add', '--remove', '--replace', '-z', '--stdin'],
        nulJoin(paths),
      );
    }
    const tree = (await call(['write-tree'])).stdout.toString('utf8').trim();
    // Plumbing, not `git show`: porcelain honours user config such as log.showSignature (gpg).
    const parentCommit = (await call(['cat-file', 'commit', headCommit])).stdout.toString('utf8');
    const parentTime = /^committer .* (\d+) [+-]\d{4}$/m.exec(parentCommit)?.[1] ?? '0';
    const message = `AAS snapshot of uncommitted changes\n\nBase: ${headCommit}\nPaths: ${entries.length}\n`;
    const date = `@${parentTime} +0000`;
    const commit = await runGit({
      args: ['commit-tree', '--no-gpg-sign', '-p', headCommit, '-m', message, tree],
      cwd: git.repoRoot,
      env: {
        ...env,
        extra: {
          GIT_AUTHOR_NAME: SNAPSHOT_IDENTITY.name,
          GIT_AUTHOR_EMAIL: SNAPSHOT_IDENTITY.email,
          GIT_AUTHOR_DATE: date,
          GIT_COMMITTER_NAME: SNAPSHOT_IDENTITY.name,
          GIT_COMMITTER_EMAIL: SNAPSHOT_IDENTITY.email,
          GIT_COMMITTER_DATE: date,
        },
      },
    });
    const sha = commit.stdout.toString('utf8').trim();
    if (!/^[0-9a-f]{40}$/.test(sha))
      throw new AasError('INTERNAL', `git commit-tree printed no commit id: ${sha}`);
    return sha;
  } finally {
    await rm(indexFile, { force: true });
    await rm(`${indexFile}.lock`, { force: true });
  }
}
