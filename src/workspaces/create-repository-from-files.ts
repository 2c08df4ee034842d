import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { AasError } from '../kernel/index.js';
import { DEFAULT_GIT_SEARCH_PATH, type GitEnvOptions } from './git-env.js';
import { runGit } from './run-git.js';

export interface CreateRepositoryOptions {
  readonly searchPath?: string;
  /** Commit date (default: now). */
  readonly date?: Date;
}

const IDENTITY = { name: 'AAS', email: 'aas@localhost' };

/**
 * Creates a git repository at `dir` with one commit on `main` holding exactly `files`, and
 * returns the commit id. Re-running it is safe: if `dir` already is a repository whose HEAD
 * holds exactly these files, that HEAD is returned; any other non-empty `dir` is refused,
 * never overwritten.
 */
export async function createRepositoryFromFiles(
  dir: string,
  files: Readonly<Record<string, string | Uint8Array>>,
  message: string,
  options: CreateRepositoryOptions = {},
): Promise<string> {
  const root = resolve(dir);
  const searchPath = options.searchPath ?? DEFAULT_GIT_SEARCH_PATH;
  const existing = await readdir(root).catch(() => null);
  if (existing !== null && existing.length > 0) return reuseIfIdentical(root, files, searchPath);

  await mkdir(root, { recursive: true });
  await writeFiles(root, files);
  const env: GitEnvOptions = { searchPath };
  await runGit({
    args: ['init', '--quiet', '--template=', '--initial-branch=main'],
    cwd: root,
    env,
  });
  await runGit({ args: ['add', '-A'], cwd: root, env });
  const date = `@${Math.floor((options.date ?? new Date()).getTime() / 1000)} +0000`;
  await runGit({
    args: ['commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', message],
    cwd: root,
    env: {
      ...env,
      extra: {
        GIT_AUTHOR_NAME: IDENTITY.name,
        GIT_AUTHOR_EMAIL: IDENTITY.email,
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_NAME: IDENTITY.name,
        GIT_COMMITTER_EMAIL: IDENTITY.email,
        GIT_COMMITTER_DATE: date,
      },
    },
  });
  return (await runGit({ args: ['rev-parse', 'HEAD'], cwd: root, env })).stdout
    .toString('utf8')
    .trim();
}

async function reuseIfIdentical(
  root: string,
  files: Readonly<Record<string, string | Uint8Array>>,
  searchPath: string,
): Promise<string> {
  const refuse = () =>
    new AasError('INVALID_ARGUMENT', `${root} already exists with other content`, {
      field: 'dir',
      hint: 'remove it or choose another directory',
    });
  const head = await runGit({
    args: ['rev-parse', 'HEAD^{commit}', 'HEAD^{tree}'],
    cwd: root,
    env: { searchPath, gitDir: join(root, '.git') },
    okExitCodes: [0, 1, 128],
  });
  const [commit, tree] = head.stdout.toString('utf8').trim().split('\n');
  if (head.exitCode !== 0 || !isSha(commit) || !isSha(tree)) throw refuse();
  // Hash the wanted files into a tree with a scratch index and object directory (the
  // repository is only read) and compare it with HEAD's tree.
  const scratch = await mkdtemp(join(tmpdir(), 'aas-repo-files-'));
  try {
    await writeFiles(join(scratch, 'tree'), files);
    const env: GitEnvOptions = {
      searchPath,
      gitDir: join(root, '.git'),
      workTree: join(scratch, 'tree'),
      indexFile: join(scratch, `index-${randomBytes(4).toString('hex')}`),
      objectDirectory: join(scratch, 'objects'),
      alternateObjectDirectories: [join(root, '.git', 'objects')],
    };
    await mkdir(join(scratch, 'objects'), { recursive: true });
    await runGit({ args: ['add', '-A'], cwd: join(scratch, 'tree'), env });
    const wanted = (await runGit({ args: ['write-tree'], cwd: join(scratch, 'tree'), env })).stdout
      .toString('utf8')
      .trim();
    if (wanted !== tree) throw refuse();
    return commit;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function isSha(value: string | undefined): value is string {
  return value !== undefined && /^[0-9a-f]{40}$/.test(value);
}

async function writeFiles(
  root: string,
  files: Readonly<Record<string, string | Uint8Array>>,
): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const full = resolve(root, path);
    if (
      !full.startsWith(`${root}/`) ||
      path.split('/').some((part) => part.toLowerCase() === '.git')
    ) {
      throw new AasError(
        'INVALID_ARGUMENT',
        `file path ${path} leaves the repository or writes git metadata`,
        { field: 'files' },
      );
    }
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}
