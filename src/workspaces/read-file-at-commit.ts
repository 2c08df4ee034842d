import { AasError, isAasError } from '../kernel/index.js';
import type { GitEnvOptions } from './git-env.js';
import { DEFAULT_GIT_SEARCH_PATH } from './git-env.js';
import { locateRepo } from './locate-repo.js';
import { resolveCommit } from './resolve-commit.js';
import { runGit } from './run-git.js';
import type { RunGit } from './types.js';

/**
 * The bytes of one regular file as committed, or null when the commit has no such path.
 * Reads git objects only, never a working tree, so it is the way to load what the agent must
 * not influence (the repository's `.aas/policy.yaml`): a workspace copy is irrelevant.
 * Pass the run's `RunGit` to see snapshot commits; a repository path sees the user's commits.
 * A path that names a directory, a symlink or a submodule is an error, not a file.
 */
export async function readFileAtCommit(
  source: RunGit | string,
  commit: string,
  path: string,
): Promise<Buffer | null> {
  const normalised = normaliseRepoPath(path);
  const { env, cwd } = await gitFor(source);
  // The line protocol below cannot carry a line break or a trailing CR in the path (git strips
  // CRs from batch input); such a path takes the three-process way.
  if (/[\n\r]/.test(normalised)) return readThroughLsTree(env, cwd, commit, normalised);
  // A full id (what the runner passes: the resolved base) goes to cat-file as it is. Anything
  // else is resolved first, so no ref syntax (`:`, braces) can change how the lines below split.
  const sha = SHA.test(commit) ? commit : await resolveCommit(env, cwd, commit);
  if (sha === null) throw unknownCommit(commit);

  // One `cat-file --batch` (it was rev-parse + ls-tree + cat-file: ~7 ms of git starts per
  // run): the commit, the tree of the path's directory (the entry's mode lives only there) and
  // the object at the path, all named relative to `<sha>^{commit}`, so a tag is peeled and a
  // tree or blob id is refused exactly as `rev-parse --verify <sha>^{commit}` did.
  const named = `${sha}^{commit}`;
  const slash = normalised.lastIndexOf('/');
  const dir = slash === -1 ? '' : normalised.slice(0, slash);
  const name = normalised.slice(slash + 1);
  const result = await runGit({
    args: ['cat-file', '--batch'],
    cwd,
    env,
    input: `${named}\n${named}:${dir}\n${named}:${normalised}\n`,
  });
  const [commitObject, dirObject, fileObject] = parseBatch(result.stdout, 3);
  if (commitObject?.type !== 'commit') throw unknownCommit(commit);
  const peeled = commitObject.oid;
  if (dirObject?.type !== 'tree') return null;
  const entry = findTreeEntry(dirObject.content, name, peeled.length / 2);
  if (entry === null) return null;
  if (!isRegularFile(entry.mode)) throw notAFile(normalised, peeled, entry.mode);
  if (fileObject?.type !== 'blob' || fileObject.oid !== entry.oid) {
    throw new AasError(
      'INTERNAL',
      `git cat-file gave no blob ${entry.oid} for ${normalised} at ${peeled.slice(0, 12)}`,
    );
  }
  return fileObject.content;
}

interface BatchObject {
  readonly oid: string;
  readonly type: string;
  readonly content: Buffer;
}

const SHA = /^[0-9a-f]{40}$/;
const BATCH_HEADER = /^([0-9a-f]{40,64}) (\w+) (\d+)$/;

/**
 * `count` answers of `cat-file --batch`: `<oid> <type> <size> LF <content> LF` for an object,
 * a single `<name> missing` (or `ambiguous`) line otherwise, which becomes undefined. A found
 * header is matched whole, so a name that merely contains spaces is never taken for one.
 */
function parseBatch(out: Buffer, count: number): (BatchObject | undefined)[] {
  const answers: (BatchObject | undefined)[] = [];
  let at = 0;
  for (let index = 0; index < count; index++) {
    const lineEnd = out.indexOf(0x0a, at);
    if (lineEnd === -1) throw new AasError('INTERNAL', 'git cat-file --batch ended early');
    const header = BATCH_HEADER.exec(out.subarray(at, lineEnd).toString('latin1'));
    if (header === null) {
      answers.push(undefined);
      at = lineEnd + 1;
      continue;
    }
    const [, oid = '', type = '', size = ''] = header;
    const end = lineEnd + 1 + Number(size);
    if (end > out.length) throw new AasError('INTERNAL', 'git cat-file --batch ended early');
    answers.push({ oid, type, content: out.subarray(lineEnd + 1, end) });
    at = end + 1;
  }
  return answers;
}

/**
 * The entry `name` of a raw tree object (`<octal mode> SP <name> NUL <binary id>` repeated),
 * with its mode canonicalised the way `ls-tree` prints it (git stores e.g. `100664` in old
 * trees and reads it as `100644`), or null.
 */
function findTreeEntry(
  tree: Buffer,
  name: string,
  idBytes: number,
): { mode: string; oid: string } | null {
  const wanted = Buffer.from(name, 'utf8');
  let at = 0;
  while (at < tree.length) {
    const space = tree.indexOf(0x20, at);
    const nul = tree.indexOf(0, space + 1);
    if (space === -1 || nul === -1 || nul + 1 + idBytes > tree.length) {
      throw new AasError('INTERNAL', 'git cat-file returned a malformed tree object');
    }
    if (tree.subarray(space + 1, nul).equals(wanted)) {
      const mode = Number.parseInt(tree.subarray(at, space).toString('latin1'), 8);
      return {
        mode: canonicalMode(mode),
        oid: tree.subarray(nul + 1, nul + 1 + idBytes).toString('hex'),
      };
    }
    at = nul + 1 + idBytes;
  }
  return null;
}

const S_IFMT = 0o170000;

/** git's canon_mode: a regular file is 100644 or 100755, anything else keeps its type only. */
function canonicalMode(mode: number): string {
  const type = mode & S_IFMT;
  if (type === 0o100000) return (mode & 0o100) !== 0 ? '100755' : '100644';
  if (type === 0o120000) return '120000';
  if (type === 0o040000) return '040000';
  return '160000';
}

function isRegularFile(mode: string): boolean {
  return mode === '100644' || mode === '100755';
}

/** The former way, for paths the batch line protocol cannot carry. */
async function readThroughLsTree(
  env: GitEnvOptions,
  cwd: string,
  commit: string,
  normalised: string,
): Promise<Buffer | null> {
  const sha = await resolveCommit(env, cwd, commit);
  if (sha === null) throw unknownCommit(commit);
  const listing = await runGit({
    args: ['ls-tree', '-z', '--full-tree', sha, '--', normalised],
    cwd,
    env: { ...env, literalPathspecs: true },
  });
  const entry = listing.stdout.toString('utf8').split('\0')[0] ?? '';
  if (entry === '') return null;
  const match = /^(\d{6}) (\w+) ([0-9a-f]{40})\t(.*)$/s.exec(entry);
  if (match === null || match[4] !== normalised) return null;
  const [, mode = '', , object] = match;
  if (!isRegularFile(mode) || object === undefined) throw notAFile(normalised, sha, mode);
  const blob = await runGit({ args: ['cat-file', 'blob', object], cwd, env });
  return blob.stdout;
}

function unknownCommit(commit: string): AasError {
  return new AasError('BASE_REF_UNKNOWN', `'${commit}' is not a commit of this repository`, {
    field: 'commit',
  });
}

/**
 * readFileAtCommit for a policy file: what stands at `path` but is no regular file (a symlink,
 * a directory, a submodule) is the policy's own error (POLICY_INVALID, naming the file), as an
 * unparsable one is, rather than a caller's bad argument.
 */
export async function readPolicyFileAtCommit(
  source: RunGit | string,
  commit: string,
  path: string,
): Promise<Buffer | null> {
  try {
    return await readFileAtCommit(source, commit, path);
  } catch (thrown) {
    if (!isAasError(thrown) || thrown.details.notRegular !== true) throw thrown;
    throw new AasError('POLICY_INVALID', thrown.message, {
      file: `${path} (at ${commit.slice(0, 12)})`,
      hint: `commit ${path} as a regular file: a symlink, a directory or a submodule there is never followed`,
    });
  }
}

function notAFile(path: string, sha: string, mode: string): AasError {
  return new AasError(
    'INVALID_ARGUMENT',
    `${path} at ${sha.slice(0, 12)} is not a regular file (mode ${mode})`,
    {
      field: 'path',
      notRegular: true,
      hint: 'only regular files are read from a commit; symlinks are not followed',
    },
  );
}

async function gitFor(source: RunGit | string): Promise<{ env: GitEnvOptions; cwd: string }> {
  if (typeof source !== 'string')
    return { env: { searchPath: source.searchPath, gitDir: source.gitDir }, cwd: source.gitDir };
  const repo = await locateRepo(source, DEFAULT_GIT_SEARCH_PATH);
  return { env: { searchPath: DEFAULT_GIT_SEARCH_PATH, gitDir: repo.gitDir }, cwd: repo.repoRoot };
}

/** Repo-relative POSIX path with no empty, `.` or `..` component; anything else is a caller bug. */
function normaliseRepoPath(path: string): string {
  const parts = path.split('/');
  if (
    path === '' ||
    path.startsWith('/') ||
    parts.some((part) => part === '' || part === '.' || part === '..') ||
    path.includes('\0')
  ) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `'${path}' is not a normalised repository-relative path`,
      { field: 'path' },
    );
  }
  return path;
}
