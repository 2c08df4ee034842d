/** The transports a job's `repo` may name, by the `protocol.<name>.allow` setting git knows them as. */
export type RepoUrlProtocol = 'https' | 'http' | 'ssh' | 'git' | 'file';

const SCHEME = /^(https|http|ssh|git|file):\/\//;
/**
 * scp-like `user@host:path`: the user part is required, so a relative path that merely holds a
 * colon is not taken for a host, and neither part may hold a slash (git's own rule for paths).
 */
const SCP_LIKE = /^[^\s@/:]+@[^\s@/:]+:/;

/**
 * Whether a job's `repo` is a URL the host running the job fetches itself, rather than the path
 * of a local checkout. Only these forms count: `https://`, `http://`, `ssh://`, `git://`,
 * `file://` and scp-like `user@host:path`; anything else (`ext::`, `fd::`, a path) is not one.
 */
export function isRepoUrl(repo: string): boolean {
  return repoUrlProtocol(repo) !== null;
}

/** The protocol git uses for `url`, or null when it is not a repository URL (see isRepoUrl). */
export function repoUrlProtocol(url: string): RepoUrlProtocol | null {
  const scheme = SCHEME.exec(url)?.[1];
  if (scheme !== undefined) return scheme as RepoUrlProtocol;
  return SCP_LIKE.test(url) ? 'ssh' : null;
}
