import { BlockList } from 'node:net';
import { parseHostPattern } from './host-pattern.js';

/**
 * Addresses that reach this host itself from the sandbox's proxy: loopback and the unspecified
 * address (connecting to 0.0.0.0 or :: reaches the local host on Linux). The egress proxy
 * refuses a NAME that resolves to one of them, but lets an address written in an allow-list
 * through, as the operator named it; explaining the policy says what such an entry grants.
 */
const LOCAL = new BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('0.0.0.0', 8, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addAddress('::', 'ipv6');

/** Whether an allow-list entry names this host by address (`127.0.0.1:5432`, `[::1]`). */
export function namesThisHost(entry: string): boolean {
  const parsed = parseHostPattern(entry);
  if (!parsed.ok || parsed.pattern.wildcard) return false;
  const host = parsed.pattern.host;
  if (host.startsWith('[')) return LOCAL.check(host.slice(1, -1), 'ipv6');
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) && LOCAL.check(host, 'ipv4');
}
