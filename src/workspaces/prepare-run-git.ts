import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AasError } from '../kernel/index.js';
import { DEFAULT_GIT_SEARCH_PATH } from './git-env.js';
import { locateRepo } from './locate-repo.js';
import type { RunGit } from './types.js';

/**
 * Config of the private git dir. Only AAS writes it; no workspace file can add to it, because
 * the workspace has no `.git` and every command names this dir through `GIT_DIR`.
 * `bare = true` on purpose: a command that needs a work tree fails unless it is given
 * `GIT_WORK_TREE` explicitly, instead of silently taking the cwd as one.
 */
export const PRIVATE_CONFIG = `[core]
\trepositoryformatversion = 0
\tbare = true
\tfilemode = true
\tsymlinks = true
\tignorecase = false
\tprecomposeunicode = false
\tautocrlf = false
\tsafecrlf = false
\tlogallrefupdates = false
[gc]
\tauto = 0
`;

/**
 * Highest-precedence attributes (`$GIT_DIR/info/attributes` beats every `.gitattributes`).
 * The base commit and the agent both control `.gitattributes`; these lines make sure neither
 * can convert line endings, run a filter, expand `$Id$`, re-encode, or force a binary file to
 * be diffed as text: bytes on disk are blob bytes in both directions. `!eol`/`!diff` reset to
 * "unspecified" so git's own NUL-byte binary detection decides.
 */
export const NEUTRAL_ATTRIBUTES =
  '* -text -crlf !eol -filter -ident -working-tree-encoding !diff\n';

export interface PrepareRunGitOptions {
  /** The run's directory; the private git dir becomes `<runDir>/git`. */
  readonly runDir: string;
  /** Any path inside the user's checkout. */
  readonly repo: string;
  /** PATH for finding git (default `/usr/local/bin:/usr/bin:/bin`). */
  readonly searchPath?: string;
}

/**
 * Locates the user's repository (REPO_NOT_FOUND / REPO_NOT_GIT) and creates, or reuses after a
 * restart, the run's private git dir. Nothing is written to the user's repository: the private
 * dir borrows its objects read-only through `objects/info/alternates`.
 */
export async function prepareRunGit(options: PrepareRunGitOptions): Promise<RunGit> {
  const searchPath = options.searchPath ?? DEFAULT_GIT_SEARCH_PATH;
  const repo = await locateRepo(options.repo, searchPath);
  if (repo.objectsDir.includes('\n')) {
    throw new AasError(
      'INTERNAL',
      `cannot borrow objects from a path containing a newline: ${repo.objectsDir}`,
    );
  }
  const runDir = resolve(options.runDir);
  await mkdir(runDir, { recursive: true });
  const gitDir = join(runDir, 'git');
  // Written directly instead of `git init --bare --template=`: one git start (~3.5 ms) less per
  // run. A git dir is HEAD + objects/ + refs/ (what git's is_git_directory checks) plus the
  // config; git creates everything else (objects/pack, refs/heads, object fan-out dirs) when
  // it first needs it, and this dir never gets a ref or a pack. Creating a file or directory
  // costs ~1 ms of kernel time on the reference VM (200 empty files: 0.2 s), so nothing
  // optional is created: an absent `info/exclude` excludes exactly what an empty one did, and
  // it is removed rather than emptied on reuse. HEAD goes last, so a crash half-way leaves a
  // dir isGitDir does not accept yet.
  const fresh = !(await isGitDir(gitDir));
  await Promise.all(
    [
      join(gitDir, 'objects', 'info'),
      join(gitDir, 'refs'),
      join(gitDir, 'info'),
      join(gitDir, 'aas-tmp'),
    ].map((dir) => mkdir(dir, { recursive: true })),
  );
  await Promise.all([
    writeAtomically(join(gitDir, 'config'), PRIVATE_CONFIG),
    writeAtomically(join(gitDir, 'info', 'attributes'), NEUTRAL_ATTRIBUTES),
    rm(join(gitDir, 'info', 'exclude'), { force: true }),
    writeAtomically(join(gitDir, 'objects', 'info', 'alternates'), `${repo.objectsDir}\n`),
  ]);
  // The branch `git init` names without an init.defaultBranch; it never gets a commit.
  if (fresh) await writeAtomically(join(gitDir, 'HEAD'), 'ref: refs/heads/master\n');
  return {
    gitDir,
    repoRoot: repo.repoRoot,
    repoGitDir: repo.gitDir,
    repoObjectsDir: repo.objectsDir,
    searchPath,
  };
}

async function isGitDir(dir: string): Promise<boolean> {
  try {
    const [head, objects] = await Promise.all([
      stat(join(dir, 'HEAD')),
      stat(join(dir, 'objects')),
    ]);
    return head.isFile() && objects.isDirectory();
  } catch {
    return false;
  }
}

/**
 * Readers (a concurrent git process) see the old file or the new one, never half of one. The
 * temporary name is unique: two processes preparing one git dir at once (replicas sharing a data
 * directory, both asked to promote the same run) each rename their own file; with one shared
 * name, the second rename found the file already moved and failed with ENOENT.
 */
async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.aas-tmp`;
  await writeFile(temp, content);
  await rename(temp, path);
}
