import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import picomatch from 'picomatch';
import { AasError } from '../kernel/index.js';
import { repoUrlProtocol } from './is-repo-url.js';

/**
 * Which repository URLs this host fetches for a job (AAS_REPO_URL_HOSTS,
 * AAS_REPO_URL_PRIVATE_NETWORKS). Whoever may submit a job may make this host fetch its URL; the
 * rule keeps that from reaching hosts the operator did not mean, above all the services of the
 * host's own network (server-side request forgery). `file://` URLs name this host's files, as
 * a job's local path does, and are not subject to it.
 */
export interface RepoUrlRule {
  /** Host globs (`github.com`, `*.corp.example`), case-insensitive; `*` is every host. */
  readonly hosts: readonly string[];
  /** Whether a host may resolve to a loopback, private, link-local or otherwise local address. */
  readonly privateNetworks: boolean;
  /**
   * A git credential-store file (`AAS_GIT_CREDENTIALS`) this host's fetches of http(s) URLs may
   * take credentials from, by the repository's whole URL; none: public repositories only.
   */
  readonly credentialsFile?: string;
}

/** Every host, local networks included: for tests and single-user setups that want it. */
export const ANY_REPO_URL: RepoUrlRule = { hosts: ['*'], privateNetworks: true };

/** What the rule checked of a URL: git is told to connect to `addresses` and nowhere else. */
export interface CheckedRepoHost {
  readonly protocol: 'https' | 'http' | 'ssh' | 'git';
  /** Lowercase; an IPv6 literal without its brackets. */
  readonly host: string;
  readonly port: number;
  /** Every address the host resolved to (the host itself when it is an address literal). */
  readonly addresses: readonly string[];
  /** The host is an address literal: there is nothing to resolve, hence nothing to pin. */
  readonly literal: boolean;
}

const DEFAULT_PORTS = { https: 443, http: 80, ssh: 22, git: 9418 } as const;

/**
 * Characters refused anywhere in a URL this host fetches, because git, curl, ssh and a URL
 * parser read them differently, so a host checked here could differ from the host contacted:
 * curl ends a user name at a backslash where a WHATWG parser sees a slash; git decodes `%xx`
 * in git:// and ssh:// URLs before it splits them; `#` and `?` start a fragment or a query for
 * a parser but not for ssh. None is needed to name a repository.
 */
const AMBIGUOUS = /[\\%#?\s\p{Cc}]/u;
/** `[user@]host[:port]`: a plain user name, a DNS name or IPv4, or a bracketed IPv6 literal. */
const AUTHORITY =
  /^(?:[A-Za-z0-9][A-Za-z0-9._~-]*@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9._-]*)(?::([0-9]{1,5}))?$/;
/**
 * Refused in the path too: git looks for `@[` anywhere after the scheme to find a bracketed
 * host (connect.c, host_end), so `ssh://1.2.3.4/x@[127.0.0.1:2222]/r` would connect to
 * 127.0.0.1:2222. A repository path needs none of them.
 */
const PATH_AMBIGUOUS = /[@[\]]/;

/**
 * Addresses that are not the public internet (IANA special-purpose registries): loopback, the
 * RFC 1918 and unique-local ranges, link-local (cloud metadata services live at 169.254.169.254),
 * carrier-grade NAT, "this network", benchmarking, documentation, multicast and reserved space,
 * and IPv6 forms that carry an IPv4 address.
 */
const LOCAL_NETWORKS = (() => {
  const list = new BlockList();
  const v4: [string, number][] = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.168.0.0', 16],
    ['192.0.2.0', 24],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  for (const [network, prefix] of v4) list.addSubnet(network, prefix, 'ipv4');
  const v6: [string, number][] = [
    // IPv4-compatible (and with it :: and ::1), SIIT and NAT64 forms embed an IPv4 address,
    // 6to4 and Teredo tunnel to one: none is checked as that address, so all are refused.
    ['::', 96],
    ['::ffff:0:0:0', 96],
    ['64:ff9b::', 96],
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 32],
    ['2001:db8::', 32],
    ['2002::', 16],
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
  ];
  for (const [network, prefix] of v6) list.addSubnet(network, prefix, 'ipv6');
  return list;
})();

/** Whether `address` (an IPv4 or IPv6 literal) belongs to a local or special-purpose network. */
export function isLocalNetworkAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return LOCAL_NETWORKS.check(address, 'ipv4');
  if (family !== 6) return true;
  // BlockList matches an IPv4-mapped IPv6 address (::ffff:127.0.0.1) against the IPv4 ranges.
  return LOCAL_NETWORKS.check(address, 'ipv6');
}

/**
 * The protocol, host and port a repository URL connects to, read strictly (see AMBIGUOUS and
 * AUTHORITY; JOB_INVALID otherwise); null for `file://` (no network) and for what is not a
 * repository URL.
 */
export function repoUrlEndpoint(
  url: string,
): { protocol: CheckedRepoHost['protocol']; host: string; port: number } | null {
  const protocol = repoUrlProtocol(url);
  if (protocol === null || protocol === 'file') return null;
  if (AMBIGUOUS.test(url)) {
    throw refused(
      url,
      'it holds a character that git, ssh and curl read differently (a backslash, %, #, ? or whitespace)',
      'write the URL without them: naming a repository needs none',
    );
  }
  const scheme = /^[a-z]+:\/\//.exec(url)?.[0];
  let authority: string;
  let path: string;
  if (scheme === undefined) {
    // scp-like user@host:path (isRepoUrl required the user and refused slashes in both parts).
    authority = url.slice(0, url.indexOf(':'));
    path = url.slice(authority.length + 1);
  } else {
    const rest = url.slice(scheme.length);
    const slash = rest.indexOf('/');
    authority = slash === -1 ? rest : rest.slice(0, slash);
    path = slash === -1 ? '' : rest.slice(slash);
  }
  if (PATH_AMBIGUOUS.test(path)) {
    throw refused(
      url,
      'its path holds @, [ or ], which git may read as another host',
      'write the URL without them: naming a repository needs none',
    );
  }
  const match = AUTHORITY.exec(authority);
  if (match === null) {
    throw refused(url, `its host part ${JSON.stringify(authority)} is not [user@]host[:port]`);
  }
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = match[2] === undefined ? DEFAULT_PORTS[protocol] : Number(match[2]);
  if (scheme !== undefined) {
    // A second reading, by the WHATWG parser, must find the same host: what the two read
    // differently (a numeric IPv4 spelling, say) is refused rather than guessed.
    let parsedHost: string;
    try {
      parsedHost = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    } catch {
      throw refused(url, 'it is not a valid URL');
    }
    if (parsedHost !== host) {
      throw refused(url, `its host reads as ${host} here but as ${parsedHost} to a URL parser`);
    }
  }
  if (host === '' || port < 1 || port > 65_535) {
    throw refused(url, 'it names no usable host and port');
  }
  return { protocol, host, port };
}

/**
 * Refuses (JOB_INVALID, field `repo`) a URL whose host no glob of the rule matches, or that
 * cannot be read unambiguously. Needs no network: it is what a submission is checked against
 * before the job is queued.
 */
export function checkRepoUrlHost(url: string, rule: RepoUrlRule): void {
  const endpoint = repoUrlEndpoint(url);
  if (endpoint === null) return;
  const matches = picomatch(rule.hosts as string[], { nocase: true, dot: true });
  if (!matches(endpoint.host)) {
    throw refused(
      url,
      `its host ${endpoint.host} is not among the allowed hosts (${rule.hosts.join(', ') || 'none'})`,
      'add the host to AAS_REPO_URL_HOSTS on the host that fetches it, or submit a local path',
    );
  }
}

/**
 * The whole rule, just before a fetch: the host glob, then, unless local networks are allowed,
 * every address the host resolves to. Returns what to pin the connection to (so a DNS answer
 * that changes between this check and git's own lookup cannot send git elsewhere); null for
 * `file://` URLs. A git:// connection cannot be pinned, so while local networks are refused it
 * is made only to an address literal.
 */
export async function checkRepoUrl(
  url: string,
  rule: RepoUrlRule,
  resolve: (host: string) => Promise<readonly string[]> = resolveAll,
): Promise<CheckedRepoHost | null> {
  checkRepoUrlHost(url, rule);
  const endpoint = repoUrlEndpoint(url);
  if (endpoint === null) return null;
  const literal = isIP(endpoint.host) !== 0;
  if (!literal && endpoint.protocol === 'git' && !rule.privateNetworks) {
    throw refused(
      url,
      'a git:// connection cannot be held to the address checked here, so its name could resolve to a local network by the time git connects',
      'use the https:// or ssh:// URL of the repository, or set AAS_REPO_URL_PRIVATE_NETWORKS=allow on the host that fetches it',
    );
  }
  let addresses: readonly string[];
  try {
    addresses = literal ? [endpoint.host] : await resolve(endpoint.host);
  } catch (thrown) {
    throw new AasError(
      'REPO_NOT_FOUND',
      `cannot fetch ${url}: its host ${endpoint.host} does not resolve (${thrown instanceof Error ? thrown.message : String(thrown)})`,
      { field: 'repo', hint: 'check the URL and the DNS of the host that fetches it' },
    );
  }
  if (addresses.length === 0) {
    throw new AasError('REPO_NOT_FOUND', `cannot fetch ${url}: ${endpoint.host} has no address`, {
      field: 'repo',
    });
  }
  if (!rule.privateNetworks) {
    const local = addresses.find(isLocalNetworkAddress);
    if (local !== undefined) {
      const where = literal
        ? `its host is ${local}`
        : `its host ${endpoint.host} resolves to ${local}`;
      throw refused(
        url,
        `${where}, an address of a local network`,
        'set AAS_REPO_URL_PRIVATE_NETWORKS=allow on the host that fetches it to fetch from local networks',
      );
    }
  }
  return { ...endpoint, addresses, literal };
}

async function resolveAll(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true, verbatim: true });
  return found.map((entry) => entry.address);
}

function refused(url: string, why: string, hint?: string): AasError {
  return new AasError('JOB_INVALID', `this host does not fetch ${url}: ${why}`, {
    field: 'repo',
    ...(hint === undefined ? {} : { hint }),
  });
}
