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
}

/** Every host, local networks included: for tests and single-user setups that want it. */
export const ANY_REPO_URL: RepoUrlRule = { hosts: ['*'], privateNetworks: true };

/** The address a URL's host was checked at: git is told to connect there and nowhere else. */
export interface CheckedRepoHost {
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  https: 443,
  http: 80,
  ssh: 22,
  git: 9418,
};

/**
 * Addresses that are not the public internet (IANA special-purpose registries): loopback, the
 * RFC 1918 and unique-local ranges, link-local (cloud metadata services live at 169.254.169.254),
 * carrier-grade NAT, "this network", benchmarking, multicast and reserved space.
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
    ['198.18.0.0', 15],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  for (const [network, prefix] of v4) list.addSubnet(network, prefix, 'ipv4');
  const v6: [string, number][] = [
    ['::', 128],
    ['::1', 128],
    ['64:ff9b::', 96],
    ['fc00::', 7],
    ['fe80::', 10],
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
 * The host and port a repository URL connects to; null for `file://` (no network) and for what
 * is not a repository URL.
 */
export function repoUrlEndpoint(url: string): { host: string; port: number } | null {
  const protocol = repoUrlProtocol(url);
  if (protocol === null || protocol === 'file') return null;
  const scheme = /^[a-z]+:\/\//.test(url);
  if (!scheme) {
    // scp-like user@host:path; isRepoUrl already refused slashes and colons in the host.
    const host = url.slice(url.indexOf('@') + 1, url.indexOf(':'));
    return { host: host.toLowerCase(), port: DEFAULT_PORTS.ssh ?? 22 };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refused(url, 'it is not a valid URL');
  }
  // WHATWG keeps IPv6 literals bracketed; git, curl and the lookup want them bare.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === '') throw refused(url, 'it names no host');
  const port = parsed.port === '' ? (DEFAULT_PORTS[protocol] ?? 0) : Number(parsed.port);
  return { host, port };
}

/**
 * Refuses (JOB_INVALID, field `repo`) a URL whose host no glob of the rule matches. Needs no
 * network: it is what a submission is checked against before the job is queued.
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
 * every address the host resolves to. Returns the address to pin the connection to (so a DNS
 * answer that changes between this check and git's own lookup cannot send git elsewhere); null
 * for `file://` URLs.
 */
export async function checkRepoUrl(
  url: string,
  rule: RepoUrlRule,
  resolve: (host: string) => Promise<readonly string[]> = resolveAll,
): Promise<CheckedRepoHost | null> {
  checkRepoUrlHost(url, rule);
  const endpoint = repoUrlEndpoint(url);
  if (endpoint === null) return null;
  let addresses: readonly string[];
  try {
    addresses = isIP(endpoint.host) === 0 ? await resolve(endpoint.host) : [endpoint.host];
  } catch (thrown) {
    throw new AasError(
      'REPO_NOT_FOUND',
      `cannot fetch ${url}: its host ${endpoint.host} does not resolve (${thrown instanceof Error ? thrown.message : String(thrown)})`,
      { field: 'repo', hint: 'check the URL and the DNS of the host that fetches it' },
    );
  }
  const [first] = addresses;
  if (first === undefined) {
    throw new AasError('REPO_NOT_FOUND', `cannot fetch ${url}: ${endpoint.host} has no address`, {
      field: 'repo',
    });
  }
  if (!rule.privateNetworks) {
    const local = addresses.find(isLocalNetworkAddress);
    if (local !== undefined) {
      const where =
        isIP(endpoint.host) === 0
          ? `its host ${endpoint.host} resolves to ${local}`
          : `its host is ${local}`;
      throw refused(
        url,
        `${where}, an address of a local network`,
        'set AAS_REPO_URL_PRIVATE_NETWORKS=allow on the host that fetches it to fetch from local networks',
      );
    }
  }
  return { ...endpoint, address: first };
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
