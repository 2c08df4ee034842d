import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/kernel/index.js';
import {
  type Confinement,
  createBubblewrapBackend,
  type EgressDecision,
  type LaunchSpec,
  limitEnforcement,
  type ResourceLimits,
  type SandboxNetwork,
} from '../../src/sandbox/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

const backend = createBubblewrapBackend({ clock: systemClock, nodePath: process.execPath });
const selfTest = await backend.selfTest();
const skipReason = selfTest.ok ? '' : `bubblewrap unavailable: ${selfTest.reason}`;
if (!selfTest.ok) {
  if (process.env.AAS_REQUIRE_SANDBOX === '1') throw new Error(skipReason);
  console.warn(`SKIPPED bubblewrap backend tests: ${skipReason}`);
}

const MIB = 1024 * 1024;
const MEMORY_TEST_LIMITS = { cpuSec: 60, maxProcesses: 40, maxFileBytes: 1 << 20 };
const memoryUncapped = selfTest.ok && (await limitEnforcement()).memory === 'none';
if (memoryUncapped) {
  console.warn('SKIPPED memory limit tests: this host has no writable cgroup memory controller');
}

interface Box {
  root: string;
  workspace: string;
  aep: string;
  home: string;
  tmp: string;
  secret: string;
}

function makeBox(): Box {
  const root = makeTempDir('aas-bwrap-');
  const aep = join(root, 'attempt', 'aep');
  const box = {
    root,
    workspace: join(root, 'attempt', 'workspace'),
    aep,
    home: join(aep, 'home'),
    tmp: join(aep, 'tmp'),
    secret: join(root, 'secret.txt'),
  };
  for (const dir of [box.workspace, box.home, box.tmp]) mkdirSync(dir, { recursive: true });
  writeFileSync(box.secret, 'TOP-SECRET');
  writeFileSync(join(box.workspace, 'file.txt'), 'base\n');
  return box;
}

function spec(
  box: Box,
  script: string,
  extra: {
    network?: SandboxNetwork;
    limits?: ResourceLimits;
    timeoutMs?: number;
    env?: Record<string, string>;
  } = {},
): LaunchSpec {
  const confinement: Confinement = {
    writablePaths: [box.workspace, box.aep],
    readOnlyPaths: [],
    tmpDir: box.tmp,
    homeDir: box.home,
    network: extra.network ?? { mode: 'disabled' },
    scratchDir: join(box.root, 'attempt', 'sandbox'),
  };
  return {
    command: '/bin/sh',
    args: ['-c', script],
    cwd: box.workspace,
    env: { PATH: '/usr/bin:/bin', HOME: box.home, ...extra.env },
    timeoutMs: extra.timeoutMs ?? 30_000,
    killGraceMs: 200,
    stdoutPath: join(box.root, 'attempt', 'stdout.log'),
    stderrPath: join(box.root, 'attempt', 'stderr.log'),
    maxOutputBytes: 1024 * 1024,
    confinement,
    ...(extra.limits === undefined ? {} : { limits: extra.limits }),
  };
}

const out = (box: Box) => readFileSync(join(box.root, 'attempt', 'stdout.log'), 'utf8');
const err = (box: Box) => readFileSync(join(box.root, 'attempt', 'stderr.log'), 'utf8');

describe.skipIf(!selfTest.ok)('bubblewrap backend', () => {
  let box: Box;
  beforeAll(() => {
    box = makeBox();
  });
  afterAll(() => removeDir(box.root));

  it('lets the process write its workspace and nothing of the host', async () => {
    const outcome = await backend.launch(
      spec(
        box,
        [
          'echo changed > file.txt',
          `cat ${box.secret} 2>/dev/null && echo LEAK`,
          // The directories above the binds exist inside (on a private tmpfs), not on the host.
          `echo x > ${box.root}/outside.txt 2>/dev/null`,
          'echo x > /etc/planted 2>/dev/null && echo WROTE',
          'ls /root 2>/dev/null && echo ROOT',
          'echo x > /usr/planted 2>/dev/null && echo USR',
          'id -u',
          'cat /etc/passwd | grep -c agent',
        ].join('\n'),
      ),
    );
    expect(outcome.exitCode, err(box)).toBe(0);
    expect(readFileSync(join(box.workspace, 'file.txt'), 'utf8')).toBe('changed\n');
    expect(out(box)).not.toMatch(/LEAK|WROTE|ROOT|USR/);
    expect(out(box)).toContain('1000\n');
    expect(existsSync(join(box.root, 'outside.txt'))).toBe(false);
  });

  it('passes exactly the environment it was given', async () => {
    const outcome = await backend.launch(spec(box, 'env | sort', { env: { ONLY_THIS: 'yes' } }));
    expect(outcome.exitCode).toBe(0);
    const names = out(box)
      .trim()
      .split('\n')
      .map((line) => line.split('=')[0]);
    expect(names).toContain('ONLY_THIS');
    // /bin/sh adds PWD; nothing from the host process leaks in.
    expect(
      names.filter((name) => !['ONLY_THIS', 'PATH', 'HOME', 'PWD'].includes(name ?? '')),
    ).toEqual([]);
  });

  it.skipIf(process.arch !== 'x64')(
    'refuses ptrace, process_vm_readv and bpf with EPERM, and closes the descriptor of the filter',
    async () => {
      // syscall(2) numbers for x86_64; errno 1 is EPERM. PTRACE_ATTACH (16) to pid 1 is what
      // would stop bwrap's init; the others reach across the sandbox the same way.
      const perl = [
        'my @r;',
        'syscall(101, 16, 1, 0, 0) == -1 and push @r, "ptrace=" . ($!+0);',
        'syscall(310, 1, 0, 0, 0, 0, 0) == -1 and push @r, "vm_readv=" . ($!+0);',
        'syscall(321, 0, 0, 0) == -1 and push @r, "bpf=" . ($!+0);',
        'syscall(39) > 0 and push @r, "getpid=ok";',
        'print join(" ", @r), "\\n";',
      ].join(' ');
      const outcome = await backend.launch(spec(box, `perl -e '${perl}'; ls -l /proc/self/fd`));
      expect(outcome.exitCode, err(box)).toBe(0);
      const [calls, ...fds] = out(box).trim().split('\n');
      expect(calls).toBe('ptrace=1 vm_readv=1 bpf=1 getpid=ok');
      // bwrap read the program from fd 3 and closed it: nothing inside refers to it.
      expect(fds.join('\n')).not.toContain('seccomp');
      expect(fds.filter((line) => / 3 -> /.test(line))).toEqual([
        expect.stringMatching(/ 3 -> \/proc\/\d+\/fd$/),
      ]);
    },
  );

  it('reaches a local service (a Unix socket outside) at 127.0.0.1:<port>, with no other network', async () => {
    const socketPath = join(box.root, 'service.sock');
    const seen: string[] = [];
    const service = createServer((request, response) => {
      seen.push(`${request.method} ${request.url} ${request.headers['x-probe'] ?? ''}`);
      response.end('from-outside');
    });
    await new Promise<void>((resolve) => service.listen(socketPath, resolve));
    const outside = await listen();
    try {
      const port = (outside.address() as AddressInfo).port;
      const base = spec(
        box,
        [
          'curl -sS -m 5 -H "x-probe: yes" http://127.0.0.1:4100/v1/messages',
          `curl -sS -m 3 http://127.0.0.1:${port}/ >/dev/null 2>&1 && echo REACHED-HOST`,
          'true',
        ].join('; '),
      );
      const outcome = await backend.launch({
        ...base,
        confinement: {
          ...(base.confinement as Confinement),
          localServices: [{ socketPath, port: 4100 }],
        },
      });
      expect(outcome.exitCode, err(box)).toBe(0);
      expect(out(box)).toBe('from-outside');
      expect(seen).toEqual(['GET /v1/messages yes']);
    } finally {
      service.close();
      outside.close();
    }
  });

  it('has no network when the policy disables it', async () => {
    const server = await listen();
    try {
      const port = (server.address() as AddressInfo).port;
      const outcome = await backend.launch(
        spec(box, `curl -sS -m 5 http://127.0.0.1:${port}/ && echo REACHED`),
      );
      expect(out(box)).not.toContain('REACHED');
      expect(outcome.exitCode).not.toBe(0);
    } finally {
      server.close();
    }
  });

  it('kills a daemonised descendant when the leader exits', async () => {
    const marker = join(box.workspace, 'daemon-alive');
    await backend.launch(
      spec(box, `setsid sh -c 'sleep 2; echo alive > ${marker}' >/dev/null 2>&1 & echo started`),
    );
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(existsSync(marker)).toBe(false);
  });

  it('stops a fork bomb at the process cap with its own reason', async () => {
    const outcome = await backend.launch(
      spec(box, 'bomb() { bomb | bomb & }; bomb; sleep 20', {
        limits: { cpuSec: 60, maxProcesses: 40, maxFileBytes: 1 << 20 },
        timeoutMs: 20_000,
      }),
    );
    expect(outcome.timedOut).toBe(false);
    expect(outcome.limitHit).toBe('processes');
  });

  it('stops a CPU burner at its CPU limit', async () => {
    const outcome = await backend.launch(
      spec(box, 'while :; do :; done', {
        limits: { cpuSec: 1, maxProcesses: 40, maxFileBytes: 1 << 20 },
        timeoutMs: 30_000,
      }),
    );
    expect(outcome.timedOut).toBe(false);
    expect(outcome.limitHit).toBe('cpu');
  });

  it.skipIf(memoryUncapped)('kills a tree that holds more memory than its limit', async () => {
    const outcome = await backend.launch(
      // A string doubled until something gives: 64 MiB are reached within 27 doublings.
      spec(box, `awk 'BEGIN { s = "x"; while (1) s = s s }'; echo survived`, {
        limits: { ...MEMORY_TEST_LIMITS, maxMemoryBytes: 64 * MIB },
      }),
    );
    expect(outcome.timedOut).toBe(false);
    expect(outcome.limitHit).toBe('memory');
    expect(outcome.limitDetail).toContain(`memory limit of ${64 * MIB} bytes`);
  });

  it.skipIf(memoryUncapped)(
    'counts the memory-backed /dev/shm against the memory limit',
    async () => {
      const outcome = await backend.launch(
        spec(box, 'head -c 200000000 /dev/zero > /dev/shm/fill; sleep 5', {
          // The growth cap (which also sizes /dev/shm) is far above the memory limit here.
          limits: {
            ...MEMORY_TEST_LIMITS,
            maxMemoryBytes: 32 * MIB,
            maxFileBytes: 1 << 30,
            growth: { paths: [box.workspace], maxBytes: 1 << 30 },
          },
        }),
      );
      expect(outcome.limitHit).toBe('memory');
    },
  );

  it.skipIf(memoryUncapped)('leaves a tree within its memory limit alone', async () => {
    const outcome = await backend.launch(
      spec(box, `awk 'BEGIN { s = "x"; for (i = 0; i < 20; i++) s = s s; print length(s) }'`, {
        limits: { ...MEMORY_TEST_LIMITS, maxMemoryBytes: 256 * MIB },
      }),
    );
    expect(outcome.exitCode, err(box)).toBe(0);
    expect(outcome.limitHit).toBeNull();
    expect(out(box).trim()).toBe(String(1 << 20));
  });

  it('refuses a file over the size limit', async () => {
    const outcome = await backend.launch(
      spec(box, 'head -c 3000000 /dev/zero > big.bin', {
        limits: { cpuSec: 60, maxProcesses: 40, maxFileBytes: 1_000_000 },
      }),
    );
    expect(outcome.limitHit).toBe('fileSize');
  });

  it('kills the tree when the workspace grows past its cap', async () => {
    const outcome = await backend.launch(
      spec(
        box,
        'i=0; while [ $i -lt 400 ]; do head -c 100000 /dev/zero > fill-$i.bin; i=$((i+1)); sleep 0.01; done',
        {
          limits: {
            cpuSec: 60,
            maxProcesses: 40,
            maxFileBytes: 1 << 20,
            growth: { paths: [box.workspace], maxBytes: 2_000_000 },
          },
        },
      ),
    );
    expect(outcome.limitHit).toBe('workspaceGrowth');
  });

  it('caps the memory-backed /tmp and /dev/shm at the growth limit', async () => {
    const outcome = await backend.launch(
      spec(
        box,
        [
          'head -c 3000000 /dev/zero > /dev/shm/fill 2>/dev/null || echo SHM-FULL',
          'head -c 3000000 /dev/zero > /tmp/fill 2>/dev/null || echo TMP-FULL',
        ].join('\n'),
        {
          limits: {
            cpuSec: 60,
            maxProcesses: 40,
            maxFileBytes: 1 << 24,
            growth: { paths: [box.workspace], maxBytes: 1_000_000 },
          },
        },
      ),
    );
    expect(outcome.exitCode, err(box)).toBe(0);
    expect(out(box)).toContain('SHM-FULL');
    expect(out(box)).toContain('TMP-FULL');
  });

  it.skipIf(process.getuid?.() !== 0)(
    'counts files deleted while still open against the growth limit (cgroup hosts)',
    async () => {
      const outcome = await backend.launch(
        spec(
          box,
          'exec 3>held; rm held; i=0; while [ $i -lt 100 ]; do head -c 100000 /dev/zero >&3; i=$((i+1)); sleep 0.02; done; sleep 5',
          {
            limits: {
              cpuSec: 60,
              maxProcesses: 40,
              maxFileBytes: 1 << 26,
              growth: { paths: [box.workspace], maxBytes: 2_000_000 },
            },
          },
        ),
      );
      expect(outcome.limitHit).toBe('workspaceGrowth');
    },
  );

  it('reaches allow-listed hosts through the proxy and records refusals', async () => {
    const server = await listen();
    const decisions: EgressDecision[] = [];
    try {
      const port = (server.address() as AddressInfo).port;
      const outcome = await backend.launch(
        spec(
          box,
          [
            // The test server is on the host's loopback; inside, 127.0.0.1 is the sandbox's own,
            // which NO_PROXY keeps direct, so the proxy is named explicitly here.
            `curl -sS -m 10 --noproxy '' http://127.0.0.1:${port}/hello`,
            'echo',
            'curl -fsS -m 10 http://example.invalid/ >/dev/null 2>&1 || echo REFUSED',
          ].join('\n'),
          {
            network: {
              mode: 'allowlist',
              decide: (host, p) => host === '127.0.0.1' && p === port,
              onDecision: (decision) => decisions.push(decision),
            },
          },
        ),
      );
      expect(outcome.exitCode, err(box)).toBe(0);
      expect(out(box)).toContain('hello from host');
      expect(out(box)).toContain('REFUSED');
      expect(decisions.map((d) => d.kind)).toEqual(['allowed', 'refused']);
      expect(decisions[1]?.host).toBe('example.invalid');
    } finally {
      server.close();
    }
  });

  it('refuses to launch without a confinement', async () => {
    const { confinement: _ignored, ...bare } = spec(box, 'true');
    const outcome = await backend.launch(bare);
    expect(outcome.spawnError).toMatch(/confinement/);
  });
});

function listen(): Promise<Server> {
  const server = createServer((_req, res) => {
    res.end('hello from host');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
