/**
 * Network allow-list entries: `host`, `host:port`, `*.suffix[:port]` or `[ipv6][:port]`.
 * A bare host admits every port of that host; a port pins it. `*.example.com` admits any
 * subdomain at any depth (`api.example.com`, `a.b.example.com`) but not `example.com` itself,
 * so a wildcard never silently covers the apex. Hosts are canonicalised with the WHATWG URL
 * parser (lower case, punycode, IPv4/IPv6 normal forms, no trailing dot) on both sides, so an
 * entry and a connection target can never disagree about spelling.
 */
export interface HostPattern {
  /** Canonical host; for a wildcard, the suffix after `*.`. IPv6 keeps its brackets. */
  readonly host: string;
  readonly wildcard: boolean;
  /** null = every port. */
  readonly port: number | null;
}

export type HostPatternResult =
  | { readonly ok: true; readonly pattern: HostPattern }
  | { readonly ok: false; readonly message: string; readonly hint: string };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Canonical host name, or null when it is not a usable host. */
export function canonicalHost(raw: string): string | null {
  if (raw.length === 0 || raw.length > 255 || /[\s/?#@\\%*]/.test(raw)) return null;
  let host: string;
  try {
    host = new URL(`http://${raw}/`).hostname;
  } catch {
    return null;
  }
  if (host.startsWith('[')) return host;
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253) return null;
  return host.split('.').every((label) => LABEL.test(label)) ? host : null;
}

function parsePort(text: string): number | null {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65_535 ? port : null;
}

export function parseHostPattern(entry: string): HostPatternResult {
  const fail = (message: string, hint: string): HostPatternResult => ({ ok: false, message, hint });
  const shown = JSON.stringify(entry);
  if (entry === '*' || entry === '*:*') {
    return fail(`${shown} is not a host`, 'to allow every host write network: full');
  }
  let hostText = entry;
  let portText: string | null = null;
  if (entry.startsWith('[')) {
    const match = /^(\[[^\]]*\])(?::(.*))?$/.exec(entry);
    if (!match)
      return fail(
        `${shown} is not a valid bracketed IPv6 host`,
        'write [2001:db8::1] or [2001:db8::1]:443',
      );
    hostText = match[1] ?? '';
    portText = match[2] ?? null;
  } else {
    const colons = entry.split(':').length - 1;
    if (colons > 1)
      return fail(
        `${shown} looks like a bare IPv6 address`,
        'put IPv6 addresses in brackets: [::1]:443',
      );
    if (colons === 1) {
      const at = entry.indexOf(':');
      hostText = entry.slice(0, at);
      portText = entry.slice(at + 1);
    }
  }
  let port: number | null = null;
  if (portText !== null) {
    port = parsePort(portText);
    if (port === null)
      return fail(`${shown} has an invalid port`, 'a port is a number from 1 to 65535');
  }
  const wildcard = hostText.startsWith('*.');
  const host = canonicalHost(wildcard ? hostText.slice(2) : hostText);
  if (host === null) {
    return fail(
      `${shown} is not a valid host`,
      'write a host name (api.example.com), an IP address, or *.example.com',
    );
  }
  if (wildcard && (host.startsWith('[') || !host.includes('.') || /^[0-9.]+$/.test(host))) {
    return fail(
      `${shown} is too broad a wildcard`,
      'a wildcard needs a domain with at least two labels, such as *.example.com',
    );
  }
  return { ok: true, pattern: { host, wildcard, port } };
}

export function formatHostPattern(pattern: HostPattern): string {
  const host = pattern.wildcard ? `*.${pattern.host}` : pattern.host;
  return pattern.port === null ? host : `${host}:${pattern.port}`;
}

function hostMatches(pattern: HostPattern, host: string): boolean {
  return pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host;
}

/** Whether the entry admits a canonical host on a port (null port = "on every port"). */
export function hostPatternAdmits(
  pattern: HostPattern,
  host: string,
  port: number | null,
): boolean {
  if (!hostMatches(pattern, host)) return false;
  return pattern.port === null || pattern.port === port;
}

/** Whether every host:port admitted by `inner` is admitted by `outer`. */
export function hostPatternCovers(outer: HostPattern, inner: HostPattern): boolean {
  const hostCovered = inner.wildcard
    ? outer.wildcard && (inner.host === outer.host || inner.host.endsWith(`.${outer.host}`))
    : hostMatches(outer, inner.host);
  return hostCovered && (outer.port === null || outer.port === inner.port);
}

/**
 * The exact intersection of two entries (the set both admit), or null when disjoint. The entry
 * language is closed under intersection, so allow-lists from several layers fold into one
 * concrete list the sandbox can enforce.
 */
export function intersectHostPatterns(a: HostPattern, b: HostPattern): HostPattern | null {
  let port: number | null;
  if (a.port === null) port = b.port;
  else if (b.port === null || b.port === a.port) port = a.port;
  else return null;
  let base: HostPattern | null;
  if (hostPatternCovers({ ...a, port: null }, { ...b, port: null })) base = b;
  else if (hostPatternCovers({ ...b, port: null }, { ...a, port: null })) base = a;
  else base = null;
  return base === null ? null : { host: base.host, wildcard: base.wildcard, port };
}
