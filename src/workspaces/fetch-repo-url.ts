import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { AasError } from '../kernel/index.js';
import { hasCachedCommit, openBaseCache, pinBaseCommit } from './base-pack.js';
import { gitCredentialArgs } from './git-credentials.js';
import { DEFAULT_GIT_SEARCH_PATH, type GitEnvOptions } from './git-env.js';
import { repoUrlProtocol } from './is-repo-url.js';
import { type CheckedRepoHost, checkRepoUrl, type RepoUrlRule } from './repo-url-rule.js';
import { resolveCommits } from './resolve-commit.js';
import { type GitResult, runGit } from './run-git.js';

/**
 * A fetch that has not finished after this long is given up: a URL that stops answering must
 * not hold a run (and its lease) forever. Generous, because a first fetch carries all history.
 */
export const REPO_FETCH_TIMEOUT_MS = 10 * 60_000;

const SHA = /^[0-9a-f]{40}$/;
/** Where one fetch lands before its commit is pinned; unique, so concurrent fetches never meet. */
const FETCHED_REF_PREFIX = 'refs/aas/fetched/';

export interface FetchRepoUrlOptions {
  /** The directory of cache repositories (one per URL, keyed by the URL's SHA-256). */
  readonly cacheDir: string;
  /** A repository URL (see isRepoUrl). */
  readonly url: string;
  /** A branch, tag, full ref or full commit id on the remote; default HEAD. */
  readonly ref?: string;
  /** Which hosts this host fetches from (checked, with their addresses, before each fetch). */
  readonly rule: RepoUrlRule;
  /** How a host name becomes addresses; the system resolver by default. */
  readonly resolveHost?: (host: string) => Promise<readonly string[]>;
  readonly searchPath?: string;
  readonly timeoutMs?: number;
}

export interface FetchedRepo {
  /** The cache repository: a job's `repo` for the run, with `commit` as its base ref. */
  readonly repoPath: string;
  /** The commit `ref` named on the remote, pinned under refs/aas/bases/ in the cache. */
  readonly commit: string;
}

/** The name of a URL's cache repository under the cache directory: the URL's SHA-256. */
export function repoUrlCacheKey(url: string): string {
  return createHash('sha256').update(url).digest('hex');
}

/** One fetch into a cache repository at a time in this process: runs side by side share it. */
const fetching = new Map<string, Promise<unknown>>();

/**
 * Fetches `ref` of a repository URL into this host's cache repository for that URL and pins the
 * commit, so its objects persist between runs and a later fetch transfers only what is new (git
 * negotiates with every pinned commit). A full commit id already in the cache is not fetched
 * again. The URL must be readable without credentials: git runs with an environment built from
 * scratch (no credential helper, no prompt, no user config), and only the URL's own transport is
 * allowed, for this one command. REPO_NOT_FOUND when the URL cannot be read, BASE_REF_UNKNOWN
 * when it has no such ref.
 */
export async function fetchRepoUrl(options: FetchRepoUrlOptions): Promise<FetchedRepo> {
  const { url } = options;
  const ref = options.ref ?? 'HEAD';
  const protocol = repoUrlProtocol(url);
  // A URL starting with '-' is not one of the accepted forms anyway; said twice because git
  // must never read it as an option, whatever isRepoUrl comes to accept.
  if (protocol === null || url.startsWith('-') || hasControlChar(url)) {
    throw new AasError('INVALID_ARGUMENT', `${JSON.stringify(url)} is not a repository URL`, {
      field: 'repo',
      hint: 'use https://, http://, ssh://, git://, file:// or user@host:path',
    });
  }
  // A ref becomes half of a refspec: no option, no second colon, no whitespace or control chars.
  if (ref === '' || ref.startsWith('-') || hasControlChar(ref) || /[\s:]/.test(ref)) {
    throw new AasError('BASE_REF_UNKNOWN', `${JSON.stringify(ref)} cannot name a ref of ${url}`, {
      field: 'baseRef',
      hint: 'name a branch, a tag, a full ref or a full commit id of the remote repository',
    });
  }
  const repoPath = await openBaseCache(options.cacheDir, repoUrlCacheKey(url));
  return serialised(repoPath, async () => {
    if (SHA.test(ref) && (await hasCachedCommit(repoPath, ref))) return { repoPath, commit: ref };
    const checked = await checkRepoUrl(url, options.rule, options.resolveHost);
    const searchPath = options.searchPath ?? DEFAULT_GIT_SEARCH_PATH;
    const env: GitEnvOptions = {
      searchPath,
      gitDir: join(repoPath, '.git'),
      // ssh asks nothing either, and reads no configuration and offers no key of the user AAS
      // runs as (ssh finds ~/.ssh through the passwd entry, not HOME): whoever submits a job
      // must not borrow this host's deploy keys. Only public ssh access remains.
      ...(protocol === 'ssh'
        ? {
            extra: {
              GIT_SSH_COMMAND: `ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityFile=none -o IdentityAgent=none -o StrictHostKeyChecking=yes${pinnedSsh(checked)}`,
            },
          }
        : {}),
    };
    const fetchedRef = `${FETCHED_REF_PREFIX}${randomBytes(8).toString('hex')}`;
    const timeoutMs = options.timeoutMs ?? REPO_FETCH_TIMEOUT_MS;
    let result: GitResult;
    try {
      result = await runGit({
        args: [
          // The hardened config forbids every transport; this command may use the URL's only.
          '-c',
          `protocol.${protocol}.allow=always`,
          '-c',
          'credential.helper=',
          ...(checked !== null && (protocol === 'https' || protocol === 'http')
            ? await pinnedHttp(checked, options.rule, url, searchPath, repoPath)
            : []),
          // The operator's credentials for the repositories listed, looked up by the URL.
          ...(options.rule.credentialsFile !== undefined &&
          (protocol === 'https' || protocol === 'http')
            ? gitCredentialArgs(options.rule.credentialsFile)
            : []),
          'fetch',
          '--no-tags',
          '--no-write-fetch-head',
          '--no-recurse-submodules',
          '--quiet',
          '--',
          url,
          `+${ref}:${fetchedRef}`,
        ],
        cwd: repoPath,
        env,
        okExitCodes: [0, 1, 128],
        timeoutMs,
      });
    } catch (thrown) {
      const message = thrown instanceof Error ? thrown.message : String(thrown);
      throw new AasError('REPO_NOT_FOUND', `cannot fetch ${url}: ${message}`, {
        field: 'repo',
        hint: `the fetch did not finish within ${timeoutMs} ms`,
      });
    }
    if (result.exitCode !== 0) {
      throw fetchFailure(url, ref, result.stderr, options.rule.credentialsFile);
    }
    try {
      const [commit] = await resolveCommits(env, repoPath, [fetchedRef]);
      if (commit === null || commit === undefined) {
        throw new AasError('BASE_REF_UNKNOWN', `${ref} names no commit in ${url}`, {
          field: 'baseRef',
        });
      }
      await pinBaseCommit(repoPath, commit);
      return { repoPath, commit };
    } finally {
      await runGit({ args: ['update-ref', '-d', fetchedRef], cwd: repoPath, env });
    }
  });
}

/**
 * For http(s): git (curl) connects to the addresses the rule checked, not to whatever a second
 * lookup says, and follows no redirect (which could lead to a host the rule never saw). An
 * address literal needs no pin. `http.curloptResolve` exists from git 2.37; an older git would
 * ignore it, so there the fetch is refused unless local networks are allowed anyway.
 */
async function pinnedHttp(
  checked: CheckedRepoHost,
  rule: RepoUrlRule,
  url: string,
  searchPath: string,
  cwd: string,
): Promise<string[]> {
  const noRedirects = ['-c', 'http.followRedirects=false'];
  if (checked.literal) return noRedirects;
  if (!(await gitPinsHttp(searchPath, cwd))) {
    if (rule.privateNetworks) return noRedirects;
    throw new AasError(
      'JOB_INVALID',
      `this host does not fetch ${url}: its git cannot hold the connection to the address checked (http.curloptResolve needs git 2.37 or later)`,
      {
        field: 'repo',
        hint: 'upgrade git on the host that fetches it, or set AAS_REPO_URL_PRIVATE_NETWORKS=allow there',
      },
    );
  }
  const addresses = checked.addresses
    .map((address) => (isIP(address) === 6 ? `[${address}]` : address))
    .join(',');
  return ['-c', `http.curloptResolve=${checked.host}:${checked.port}:${addresses}`, ...noRedirects];
}

/**
 * ssh connects to the first address checked, on the port checked, whatever host and port git
 * makes of the URL (OpenSSH takes the first value of an option, and these come before git's
 * own `-p`); the host key is checked under the URL's name.
 */
function pinnedSsh(checked: CheckedRepoHost | null): string {
  const [address] = checked?.addresses ?? [];
  if (checked === null || address === undefined) return '';
  return ` -o HostName=${address} -o Port=${checked.port} -o HostKeyAlias=${checked.host}`;
}

const gitVersions = new Map<string, Promise<boolean>>();

/** Whether the git on `searchPath` knows `http.curloptResolve` (2.37+); asked once per path. */
function gitPinsHttp(searchPath: string, cwd: string): Promise<boolean> {
  let known = gitVersions.get(searchPath);
  if (known === undefined) {
    known = runGit({ args: ['--version'], cwd, env: { searchPath } }).then(
      (result) => {
        const [, major, minor] = /git version (\d+)\.(\d+)/.exec(result.stdout.toString()) ?? [];
        return Number(major) > 2 || (Number(major) === 2 && Number(minor) >= 37);
      },
      () => false,
    );
    gitVersions.set(searchPath, known);
  }
  return known;
}

/** Git's own words decide between a ref the remote lacks and a remote that cannot be read. */
function fetchFailure(
  url: string,
  ref: string,
  stderr: string,
  credentialsFile: string | undefined,
): AasError {
  const said = stderr.trim().slice(0, 2_000);
  if (/couldn't find remote ref|not our ref|unadvertised object/i.test(said)) {
    return new AasError('BASE_REF_UNKNOWN', `${ref} names nothing in ${url}`, {
      field: 'baseRef',
      hint: said,
    });
  }
  return new AasError('REPO_NOT_FOUND', `cannot fetch ${url}`, {
    field: 'repo',
    hint: `${said || 'git failed without a message'} (${
      credentialsFile === undefined
        ? 'the URL must be readable without credentials, or listed in AAS_GIT_CREDENTIALS'
        : `a private repository needs its URL, as the job spells it, in ${credentialsFile}`
    })`,
  });
}

function hasControlChar(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

async function serialised<T>(key: string, body: () => Promise<T>): Promise<T> {
  const before = fetching.get(key) ?? Promise.resolve();
  const current = before.then(body, body);
  const settled = current.catch(() => undefined);
  fetching.set(key, settled);
  try {
    return await current;
  } finally {
    if (fetching.get(key) === settled) fetching.delete(key);
  }
}
