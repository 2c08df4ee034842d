import { lstatSync, readlinkSync } from 'node:fs';
import type { Confinement } from './sandbox-backend.js';

/** The uid and gid the process has inside the sandbox (mapped to the host user running AAS). */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;
export const SANDBOX_HOSTNAME = 'aas-sandbox';
/** Where the egress-proxy socket and the start script appear inside the sandbox. */
export const SANDBOX_RUN_DIR = '/run/aas';
export const PROXY_SOCKET_IN_SANDBOX = `${SANDBOX_RUN_DIR}/proxy.sock`;
export const PROXY_PORT_IN_SANDBOX = 3128;

/**
 * The system toolchain: the only host paths visible besides what the spec names. On merged-/usr
 * systems /bin, /lib… are symlinks into /usr and are recreated as the same symlinks.
 */
const SYSTEM_DIRS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'] as const;

/**
 * A minimal /etc: the dynamic loader, TLS roots, time zone, name-service switch and Debian's
 * alternatives (/usr/bin/awk and friends are symlinks into /etc/alternatives). Not /etc/passwd
 * (generated), not /etc/gitconfig or anything holding host credentials or configuration.
 */
const ETC_ENTRIES = [
  'alternatives',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  // Only the public parts of the TLS configuration: /etc/ssl/private holds host keys.
  'ssl/certs',
  'ssl/openssl.cnf',
  'ca-certificates',
  'ca-certificates.conf',
  'localtime',
  'timezone',
  'nsswitch.conf',
  'protocols',
  'services',
  'mime.types',
  'os-release',
  'debian_version',
] as const;
/** Only with full network: how to resolve names. */
const ETC_NETWORK_ENTRIES = ['resolv.conf', 'hosts', 'gai.conf', 'host.conf'] as const;

export interface BwrapArgsInput {
  readonly confinement: Confinement;
  readonly cwd: string;
  /** Generated files bound read-only into the sandbox. */
  readonly passwdFile: string;
  readonly groupFile: string;
  /** Used when the network is not shared (only loopback exists inside). */
  readonly hostsFile: string;
  /** For an allow-list: the proxy's Unix socket, on the host. */
  readonly proxy?: { readonly socketPath: string };
  /** The script that starts the bridges (proxy and local services) and then the command. */
  readonly startScript?: string;
  /** Size of the private /tmp. */
  readonly tmpfsBytes: number;
  /** Size of /dev/shm. */
  readonly shmBytes: number;
  /** Extra read-only paths the backend itself needs (node, its own scripts). */
  readonly backendReadOnly: readonly string[];
  /** The descriptor bwrap reads the seccomp program from (see seccomp-filter.ts). */
  readonly seccompFd?: number;
}

/**
 * The namespaces and process flags of every launch; the backend's self-test starts exactly
 * these, so a host that passes it can run every launch.
 */
export function namespaceArgs(options: { readonly shareNetwork: boolean }): string[] {
  return [
    '--unshare-user',
    '--uid',
    String(SANDBOX_UID),
    '--gid',
    String(SANDBOX_GID),
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(options.shareNetwork ? [] : ['--unshare-net']),
    '--die-with-parent',
    '--new-session',
  ];
}

/**
 * bwrap options for one launch (everything before `--`). Namespaces: user (mapped to one
 * unprivileged uid, no nested user namespaces), pid (every descendant dies with the sandbox,
 * daemons included), ipc, uts, cgroup, and network unless the policy shares it. Mount order
 * matters: later binds cover earlier ones, so writable binds come last.
 */
export function bwrapArgs(input: BwrapArgsInput): string[] {
  const { confinement } = input;
  const args: string[] = [
    ...namespaceArgs({ shareNetwork: confinement.network.mode === 'full' }),
    '--hostname',
    SANDBOX_HOSTNAME,
    ...systemToolchainArgs(),
  ];
  args.push('--dir', '/etc');
  for (const entry of ETC_ENTRIES) args.push('--ro-bind-try', `/etc/${entry}`, `/etc/${entry}`);
  if (confinement.network.mode === 'full') {
    for (const entry of ETC_NETWORK_ENTRIES)
      args.push('--ro-bind-try', `/etc/${entry}`, `/etc/${entry}`);
  } else {
    args.push('--ro-bind', input.hostsFile, '/etc/hosts');
  }
  args.push('--ro-bind', input.passwdFile, '/etc/passwd');
  args.push('--ro-bind', input.groupFile, '/etc/group');
  // bwrap's /dev is a tmpfs sized at half the RAM, with a world-writable /dev/shm in it: a
  // memory-backed disk no growth watcher sees. /dev/shm gets its own capped tmpfs.
  args.push('--proc', '/proc', '--dev', '/dev');
  args.push('--size', String(input.shmBytes), '--tmpfs', '/dev/shm');
  // A private, size-capped tmpfs at /tmp. Not a bind of the attempt's tmp dir: bwrap creates
  // the parents of every later bind inside /tmp when the data dir lives under /tmp, and on a
  // bind those empty directories would land on the host. TMPDIR points at the attempt's own
  // tmp dir (inside the writable AEP dir), which the growth cap covers.
  args.push('--size', String(input.tmpfsBytes), '--tmpfs', '/tmp');
  for (const path of [...input.backendReadOnly, ...confinement.readOnlyPaths]) {
    args.push('--ro-bind-try', path, path);
  }
  for (const path of confinement.writablePaths) args.push('--bind', path, path);
  const services = confinement.localServices ?? [];
  if (input.proxy !== undefined || services.length > 0) {
    args.push('--tmpfs', SANDBOX_RUN_DIR);
    if (input.proxy !== undefined) {
      args.push('--bind', input.proxy.socketPath, PROXY_SOCKET_IN_SANDBOX);
    }
    for (const service of services) {
      args.push('--bind', service.socketPath, serviceSocketInSandbox(service.port));
    }
    if (input.startScript !== undefined) {
      args.push('--ro-bind', input.startScript, `${SANDBOX_RUN_DIR}/start.sh`);
    }
  }
  // The sandbox's own root (where /etc and the parents of binds were created) becomes
  // read-only; the binds and /tmp keep their own flags.
  args.push('--remount-ro', '/');
  if (input.seccompFd !== undefined) args.push('--seccomp', String(input.seccompFd));
  args.push('--chdir', input.cwd);
  return args;
}

/** `/usr` read-only, and /bin, /lib… as this host has them (symlinks into /usr, or directories). */
export function systemToolchainArgs(): string[] {
  return ['--ro-bind', '/usr', '/usr', ...SYSTEM_DIRS.flatMap((dir) => systemDirArgs(dir))];
}

function systemDirArgs(dir: string): string[] {
  try {
    const stats = lstatSync(dir);
    if (stats.isSymbolicLink()) return ['--symlink', readlinkSync(dir), dir];
    if (stats.isDirectory()) return ['--ro-bind', dir, dir];
  } catch {
    // Absent on this host: nothing to show.
  }
  return [];
}

/** Single-quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** Where a local service's socket appears inside the sandbox. */
export function serviceSocketInSandbox(port: number): string {
  return `${SANDBOX_RUN_DIR}/service-${port}.sock`;
}

/**
 * The script that starts one bridge per socket (the egress proxy's, each local service's)
 * inside the sandbox, waits until each listens, then execs the real command (its arguments).
 * Waiting is bounded: a bridge that never comes up leaves the agent without that service,
 * which is the safe failure.
 */
export function bridgeStartScript(
  bridgeArgv: readonly string[],
  bridges: readonly { readonly socketInSandbox: string; readonly port: number }[],
): string {
  const lines = ['#!/bin/sh'];
  for (const bridge of bridges) {
    const ready = `${SANDBOX_RUN_DIR}/bridge-${bridge.port}.ready`;
    lines.push(
      `${[...bridgeArgv, bridge.socketInSandbox, String(bridge.port), ready].map(shellQuote).join(' ')} </dev/null >/dev/null 2>&1 &`,
      'i=0',
      `while [ ! -e ${shellQuote(ready)} ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done`,
    );
  }
  lines.push('exec "$@"', '');
  return lines.join('\n');
}

/** The egress proxy's bridge alone (the allow-list case). */
export function proxyStartScript(bridgeArgv: readonly string[]): string {
  return bridgeStartScript(bridgeArgv, [
    { socketInSandbox: PROXY_SOCKET_IN_SANDBOX, port: PROXY_PORT_IN_SANDBOX },
  ]);
}

export function passwdText(homeDir: string): string {
  return [
    'root:x:0:0:root:/nonexistent:/usr/sbin/nologin',
    `agent:x:${SANDBOX_UID}:${SANDBOX_GID}:AAS sandbox:${homeDir}:/bin/sh`,
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    '',
  ].join('\n');
}

export function groupText(): string {
  return ['root:x:0:', `agent:x:${SANDBOX_GID}:`, 'nogroup:x:65534:', ''].join('\n');
}

export const HOSTS_TEXT = `127.0.0.1 localhost ${SANDBOX_HOSTNAME}\n::1 localhost\n`;

/** What an HTTP client inside an allow-list sandbox needs to find the proxy. */
export function proxyEnv(): Record<string, string> {
  const url = `http://127.0.0.1:${PROXY_PORT_IN_SANDBOX}`;
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    ALL_PROXY: url,
    NO_PROXY: 'localhost,127.0.0.1,::1',
    no_proxy: 'localhost,127.0.0.1,::1',
  };
}
