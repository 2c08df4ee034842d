/** What promotion asks a forge for: a draft pull request from a pushed branch onto the base. */
export interface DraftPrRequest {
  owner: string;
  repo: string;
  /** The branch name promotion pushed, without the `owner:` prefix. */
  head: string;
  base: string;
  title: string;
  body: string;
}

export interface DraftPr {
  number: number;
  /** The web page of the pull request (GitHub's `html_url`), for people, not for the API. */
  url: string;
  /** False when a pull request for this head already existed and was returned instead. */
  created: boolean;
}

/**
 * A forge that can open draft pull requests. `openDraftPr` must be idempotent per head branch:
 * a retried promotion has to find the pull request its first attempt opened, never open a second.
 */
export interface DraftPrProvider {
  readonly name: string;
  openDraftPr(request: DraftPrRequest): Promise<DraftPr>;
}

/**
 * GitHub's own character sets are narrower, but enterprise-managed users carry `_`, and being a
 * little lenient here only means the API answers 404 instead of this returning null.
 */
const NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** `git@host:owner/repo.git`, the scp-like form git uses for SSH; the user part is optional. */
const SCP_LIKE_PATTERN = /^(?:[^@/:\s]+@)?([^@/:\s]+):(.+)$/;

/**
 * The `owner/repo` a git remote points at, when it is a repository on `host` (github.com or a
 * GitHub Enterprise host); null for any other host, a local path or a `file://` URL, so the
 * caller can say "this remote is not on GitHub" instead of calling the API with a guess.
 */
export function parseGitHubRemote(
  remoteUrl: string,
  host: string,
): { owner: string; repo: string } | null {
  const wantedHost = hostnameOf(host);
  if (wantedHost === '') return null;
  const remote = remoteUrl.trim();

  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(remote)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (scheme !== 'https' && scheme !== 'ssh') return null;
    let url: URL;
    try {
      url = new URL(remote);
    } catch {
      return null;
    }
    if (url.search !== '' || url.hash !== '') return null;
    if (url.hostname.toLowerCase() !== wantedHost) return null;
    return ownerAndRepo(url.pathname);
  }

  const scpLike = SCP_LIKE_PATTERN.exec(remote);
  if (scpLike === null) return null;
  const [, remoteHost, path] = scpLike;
  if (remoteHost === undefined || path === undefined) return null;
  if (remoteHost.toLowerCase() !== wantedHost) return null;
  return ownerAndRepo(path);
}

/** Callers may pass `ghe.example:8443`; the port says how to reach the host, not which one it is. */
function hostnameOf(host: string): string {
  return host.trim().toLowerCase().replace(/:\d+$/, '');
}

function ownerAndRepo(path: string): { owner: string; repo: string } | null {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  const segments = trimmed.split('/');
  if (segments.length !== 2) return null;
  const [owner, rawRepo] = segments;
  if (owner === undefined || rawRepo === undefined) return null;
  const repo = rawRepo.endsWith('.git') ? rawRepo.slice(0, -'.git'.length) : rawRepo;
  if (!isName(owner) || !isName(repo)) return null;
  return { owner, repo };
}

function isName(segment: string): boolean {
  return NAME_PATTERN.test(segment) && segment !== '.' && segment !== '..';
}
