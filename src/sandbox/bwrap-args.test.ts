import { describe, expect, it } from 'vitest';
import { bridgeStartScript, bwrapArgs, proxyStartScript, shellQuote } from './bwrap-args.js';
import type { Confinement } from './sandbox-backend.js';

const confinement = (network: Confinement['network']): Confinement => ({
  writablePaths: ['/data/runs/r/attempt-1/workspace', '/data/runs/r/attempt-1/aep'],
  readOnlyPaths: ['/opt/agent'],
  tmpDir: '/data/runs/r/attempt-1/aep/tmp',
  homeDir: '/data/runs/r/attempt-1/aep/home',
  network,
  scratchDir: '/data/runs/r/attempt-1/sandbox',
});

const base = {
  cwd: '/data/runs/r/attempt-1/workspace',
  passwdFile: '/s/passwd',
  groupFile: '/s/group',
  hostsFile: '/s/hosts',
  tmpfsBytes: 1024,
  shmBytes: 512,
  backendReadOnly: [],
};

/** Pairs `--flag value…` from an argv, for order-sensitive assertions. */
function indexOf(args: readonly string[], ...seq: string[]): number {
  for (let i = 0; i + seq.length <= args.length; i += 1) {
    if (seq.every((word, j) => args[i + j] === word)) return i;
  }
  return -1;
}

describe('bwrapArgs', () => {
  it('unshares every namespace, including the network unless the policy shares it', () => {
    const args = bwrapArgs({ ...base, confinement: confinement({ mode: 'disabled' }) });
    for (const flag of [
      '--unshare-user',
      '--disable-userns',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-net',
      '--die-with-parent',
      '--new-session',
    ])
      expect(args).toContain(flag);
    const full = bwrapArgs({ ...base, confinement: confinement({ mode: 'full' }) });
    expect(full).not.toContain('--unshare-net');
    expect(indexOf(full, '--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf')).toBeGreaterThan(
      -1,
    );
    expect(indexOf(args, '--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf')).toBe(-1);
  });

  it('binds only the system, the named paths and a generated passwd; writable binds come last', () => {
    const args = bwrapArgs({ ...base, confinement: confinement({ mode: 'disabled' }) });
    expect(indexOf(args, '--ro-bind', '/usr', '/usr')).toBeGreaterThan(-1);
    expect(indexOf(args, '--ro-bind', '/s/passwd', '/etc/passwd')).toBeGreaterThan(-1);
    expect(indexOf(args, '--ro-bind-try', '/opt/agent', '/opt/agent')).toBeGreaterThan(-1);
    const workspace = indexOf(
      args,
      '--bind',
      '/data/runs/r/attempt-1/workspace',
      '/data/runs/r/attempt-1/workspace',
    );
    expect(workspace).toBeGreaterThan(indexOf(args, '--ro-bind-try', '/opt/agent', '/opt/agent'));
    // Nothing of the host's home, /root or the data dir besides the two writable paths.
    const sources = args.filter((_, i) => ['--bind', '--ro-bind'].includes(args[i - 1] ?? ''));
    expect(sources.filter((path) => path.startsWith('/data'))).toEqual([
      '/data/runs/r/attempt-1/workspace',
      '/data/runs/r/attempt-1/aep',
    ]);
    expect(args.some((arg) => arg === '/root' || arg === '/home')).toBe(false);
    expect(indexOf(args, '--size', '1024', '--tmpfs', '/tmp')).toBeGreaterThan(-1);
    expect(indexOf(args, '--size', '512', '--tmpfs', '/dev/shm')).toBeGreaterThan(
      indexOf(args, '--dev', '/dev'),
    );
    expect(indexOf(args, '--remount-ro', '/')).toBeGreaterThan(workspace);
  });

  it('mounts the proxy socket and start script for an allow-list', () => {
    const args = bwrapArgs({
      ...base,
      confinement: confinement({ mode: 'allowlist', decide: () => false, onDecision: () => {} }),
      proxy: { socketPath: '/s/proxy.sock' },
      startScript: '/s/start.sh',
    });
    expect(args).toContain('--unshare-net');
    expect(indexOf(args, '--bind', '/s/proxy.sock', '/run/aas/proxy.sock')).toBeGreaterThan(-1);
    expect(indexOf(args, '--ro-bind', '/s/start.sh', '/run/aas/start.sh')).toBeGreaterThan(-1);
  });

  it('binds each local service socket and the start script, whatever the network policy', () => {
    const args = bwrapArgs({
      ...base,
      confinement: {
        ...confinement({ mode: 'disabled' }),
        localServices: [{ socketPath: '/s/gateway.sock', port: 4100 }],
      },
      startScript: '/s/start.sh',
    });
    expect(args).toContain('--unshare-net');
    expect(
      indexOf(args, '--bind', '/s/gateway.sock', '/run/aas/service-4100.sock'),
    ).toBeGreaterThan(-1);
    expect(indexOf(args, '--ro-bind', '/s/start.sh', '/run/aas/start.sh')).toBeGreaterThan(-1);
  });
});

describe('bridgeStartScript', () => {
  it('starts and waits for one bridge per socket before the command', () => {
    const script = bridgeStartScript(
      ['/usr/bin/node', '/b.js'],
      [
        { socketInSandbox: '/run/aas/proxy.sock', port: 3128 },
        { socketInSandbox: '/run/aas/service-4100.sock', port: 4100 },
      ],
    );
    const lines = script.split('\n');
    const starts = lines.filter((line) => line.startsWith("'/usr/bin/node'"));
    expect(starts).toEqual([
      `'/usr/bin/node' '/b.js' '/run/aas/proxy.sock' '3128' '/run/aas/bridge-3128.ready' </dev/null >/dev/null 2>&1 &`,
      `'/usr/bin/node' '/b.js' '/run/aas/service-4100.sock' '4100' '/run/aas/bridge-4100.ready' </dev/null >/dev/null 2>&1 &`,
    ]);
    expect(lines.indexOf('exec "$@"')).toBeGreaterThan(lines.lastIndexOf(starts[1] ?? ''));
  });
});

describe('proxyStartScript', () => {
  it('quotes every word of the bridge command', () => {
    const script = proxyStartScript(['/usr/bin/node', "/weird path/it's.js"]);
    expect(script).toContain(`'/usr/bin/node' ${shellQuote("/weird path/it's.js")}`);
    expect(script).toContain('exec "$@"');
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});
