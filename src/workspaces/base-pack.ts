import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError } from '../kernel/index.js';
import { markRepoCacheUsed } from './collect-repo-caches.js';
import { DEFAULT_GIT_SEARCH_PATH, type GitEnvOptions } from './git-env.js';
import { locateRepo } from './locate-repo.js';
import { resolveCommits } from './resolve-commit.js';
import { runGit } from './run-git.js';

/**
 * The largest base pack served or accepted. A pack is held in memory on both sides; 512 MiB is
 * more than the full history of most repositories, and a worker that has fetched once asks
 * only for what it lacks.
 */
export const BASE_PACK_MAX_BYTES = 512 * 1024 * 1024;

/** Where a worker keeps the commits it fetched: `refs/aas/bases/<commit>` in its cache repo. */
const BASE_REF_PREFIX = 'refs/aas/bases/';
const SHA = /^[0-9a-f]{40}$/;

export interface BasePack {
  /** The commit `ref` named. */
  readonly commit: string;
  /** A pack with every object reachable from `commit` that is not reachable from the haves. */
  readonly pack: Buffer;
  /** The haves the pack was cut against (those the repository knows); the receiver has them. */
  readonly haves: readonly string[];
}

/**
 * A pack of the base of a run for a worker on another machine: the commit `ref` names in the
 * local repository `repo` (HEAD when null), with its history minus what the worker says it has.
 * A thin pack when there are haves (deltas against objects the worker holds). Read-only on the
 * repository: `pack-objects` writes only to its stdout. BASE_REF_UNKNOWN for a ref that names
 * no commit; haves the repository does not know are ignored.
 */
export async function createBasePack(input: {
  readonly repo: string;
  readonly ref: string | null;
  readonly haves: readonly string[];
  readonly searchPath?: string;
  /** Stops packing (CANCELLED) once whoever asked went away. */
  readonly signal?: AbortSignal;
}): Promise<BasePack> {
  const searchPath = input.searchPath ?? DEFAULT_GIT_SEARCH_PATH;
  const location = await locateRepo(input.repo, searchPath);
  const env: GitEnvOptions = { searchPath, gitDir: location.gitDir };
  const ref = input.ref ?? 'HEAD';
  const haves = input.haves.filter((have) => SHA.test(have)).slice(0, 64);
  const [commit, ...known] = await resolveCommits(env, location.repoRoot, [ref, ...haves]);
  if (commit === null || commit === undefined) {
    throw new AasError('BASE_REF_UNKNOWN', `${ref} names no commit in ${location.repoRoot}`, {
      field: 'baseRef',
    });
  }
  const usable = haves.filter((_, index) => known[index] !== null && known[index] !== undefined);
  const result = await runGit({
    args: [
      'pack-objects',
      '--revs',
      '--stdout',
      '--quiet',
      ...(usable.length > 0 ? ['--thin'] : []),
    ],
    cwd: location.repoRoot,
    env,
    input: `${commit}\n${usable.map((have) => `^${have}\n`).join('')}`,
    maxStdoutBytes: BASE_PACK_MAX_BYTES,
    ...(input.signal === undefined ? {} : { signal: input.signal }),
  });
  if (result.stdoutOverflow) {
    throw new AasError(
      'PAYLOAD_TOO_LARGE',
      `the history of ${commit} is larger than ${BASE_PACK_MAX_BYTES} bytes`,
      {
        field: 'repo',
        hint: 'run this job on an embedded worker, or give the job a URL the worker can fetch',
      },
    );
  }
  return { commit, pack: result.stdout, haves: usable };
}

/**
 * A worker's cache of fetched repositories: one plain repository per source under `cacheDir`,
 * whose objects persist between runs. Returns the repository's path, usable as a job's `repo`
 * with the commit as its `baseRef` (HEAD stays unborn, so nothing is ever checked out there).
 */
export async function openBaseCache(cacheDir: string, key: string): Promise<string> {
  if (!/^[0-9a-f]{16,64}$/.test(key)) {
    throw new AasError('INTERNAL', `cache key ${key} is not hex`, { field: 'key' });
  }
  const path = join(cacheDir, key);
  // Marked used before anything else: an eviction that read the cache as idle looks again after
  // moving it away, sees this, and puts it back (collectRepoCaches).
  if (await markRepoCacheUsed(path)) return path;
  const exists = await stat(join(path, '.git')).then(
    () => true,
    () => false,
  );
  if (!exists) {
    // Initialised aside and renamed into place: a half-initialised repository is never seen
    // under the key, and of two that race, the first rename wins and the other is dropped.
    await mkdir(cacheDir, { recursive: true });
    const aside = `${path}.init-${randomBytes(6).toString('hex')}`;
    await runGit({
      args: ['init', '--quiet', aside],
      cwd: cacheDir,
      env: { searchPath: DEFAULT_GIT_SEARCH_PATH },
    });
    try {
      await rename(aside, path);
    } catch {
      await rm(aside, { recursive: true, force: true });
    }
  }
  await markRepoCacheUsed(path);
  return path;
}

/** Commits already in the cache repository (newest refs first), to send as haves. */
export async function cachedBaseCommits(repoPath: string, limit = 32): Promise<string[]> {
  const result = await runGit({
    args: [
      'for-each-ref',
      '--sort=-creatordate',
      `--count=${limit}`,
      '--format=%(objectname)',
      BASE_REF_PREFIX,
    ],
    cwd: repoPath,
    env: { searchPath: DEFAULT_GIT_SEARCH_PATH, gitDir: join(repoPath, '.git') },
  });
  return result.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => SHA.test(line));
}

/** Whether the cache repository already has `commit` (then nothing needs fetching). */
export async function hasCachedCommit(repoPath: string, commit: string): Promise<boolean> {
  const env = { searchPath: DEFAULT_GIT_SEARCH_PATH, gitDir: join(repoPath, '.git') };
  const [found] = await resolveCommits(env, repoPath, [commit]);
  return found === commit;
}

/**
 * Adds a base pack to the cache repository and pins `commit` under refs/aas/bases/, checking
 * that the pack really holds it: `index-pack` verifies every object's hash and completes a thin
 * pack from the objects already there, and the final lookup proves the commit is present.
 */
export async function addBasePack(repoPath: string, commit: string, pack: Buffer): Promise<void> {
  if (!SHA.test(commit)) {
    throw new AasError('INVALID_ARGUMENT', `${commit} is not a commit id`, { field: 'commit' });
  }
  const env = { searchPath: DEFAULT_GIT_SEARCH_PATH, gitDir: join(repoPath, '.git') };
  if (pack.length > 0) {
    await runGit({
      args: ['index-pack', '--stdin', '--fix-thin', '--strict'],
      cwd: repoPath,
      env,
      input: pack,
    });
  }
  if (!(await hasCachedCommit(repoPath, commit))) {
    throw new AasError('PATCH_DIGEST_MISMATCH', `the fetched pack does not contain ${commit}`, {
      field: 'pack',
      hint: 'the control plane sent an incomplete pack; the run is retried on the next claim',
    });
  }
  await pinBaseCommit(repoPath, commit);
}

/**
 * Keeps `commit` in the cache repository under refs/aas/bases/: a pinned commit is never pruned,
 * and its objects count as what the cache already has (haves for a pack, negotiation for a fetch).
 */
export async function pinBaseCommit(repoPath: string, commit: string): Promise<void> {
  await runGit({
    args: ['update-ref', `${BASE_REF_PREFIX}${commit}`, commit],
    cwd: repoPath,
    env: { searchPath: DEFAULT_GIT_SEARCH_PATH, gitDir: join(repoPath, '.git') },
  });
}
