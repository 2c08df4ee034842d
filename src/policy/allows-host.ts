import { assertNever } from '../kernel/index.js';
import { compiledPolicy } from './compiled-policy.js';
import type { EffectivePolicy } from './effective-policy.js';
import { canonicalHost, hostPatternAdmits } from './host-pattern.js';

function canonicalQueryHost(host: string): string | null {
  // A bare IPv6 address is unambiguous as a query (no port is attached), so bracket it.
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return canonicalHost(bracketed);
}

/**
 * May the agent reach this host (and port)? With no port, the question is "every port of
 * this host", which only a bare-host entry answers yes. With an allow-list, every layer that
 * gave one must admit the host (conjunction), exactly as for paths. An unparsable host or
 * port is refused.
 */
export function allowsHost(policy: EffectivePolicy, host: string, port?: number): boolean {
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65_535)) return false;
  const canonical = canonicalQueryHost(host);
  if (canonical === null) return false;
  const network = policy.network;
  switch (network.mode) {
    case 'disabled':
      return false;
    case 'full':
      return true;
    case 'allowlist': {
      const lists = compiledPolicy(policy).hosts;
      // An allow-list mode without lists (a hand-edited record) admits nothing, not everything.
      return (
        lists.length > 0 &&
        lists.every((list) =>
          list.some((pattern) => hostPatternAdmits(pattern, canonical, port ?? null)),
        )
      );
    }
    default:
      return assertNever(network, 'network mode');
  }
}
