import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LaunchMonitor, LimitReport } from './launch-process.js';
import type { ResourceLimits } from './sandbox-backend.js';

const POLL_MS = 250;
const V1_PIDS = '/sys/fs/cgroup/pids';
const V1_CPUACCT = '/sys/fs/cgroup/cpuacct';

/**
 * Whole-tree accounting through cgroups: a cap on live processes (pids.max) and the CPU time
 * of every process together. RLIMIT_NPROC cannot do the first when the host runs as root: the
 * kernel exempts root's processes from it even inside a user namespace (measured: 44 processes
 * started under `prlimit --nproc=20` in bwrap as root), and RLIMIT_CPU is per process.
 *
 * The leader joins the groups before it execs bwrap (see `trampoline`), so nothing it starts
 * can be outside them.
 */
export interface TreeAccounting {
  /** `cgroup.procs` files the leader writes its pid into before exec. */
  readonly procsFiles: readonly string[];
  readonly monitor: LaunchMonitor;
  /** Pids of every process in the tree right now. */
  members(): Promise<number[]>;
  /** Final reading, kills whatever is left in the groups, removes them. */
  finish(): Promise<LimitReport | null>;
}

export type CgroupSupport =
  | { readonly ok: true; readonly kind: 'v1' }
  | { readonly ok: false; readonly reason: string };

/** Can this host give each launch its own pids + cpuacct cgroup? Probed by creating one. */
export async function probeCgroupSupport(): Promise<CgroupSupport> {
  if (!existsSync(join(V1_PIDS, 'cgroup.procs')) || !existsSync(join(V1_CPUACCT, 'cgroup.procs')))
    return {
      ok: false,
      reason: 'no writable cgroup v1 pids and cpuacct hierarchies under /sys/fs/cgroup',
    };
  const probe = await createTreeAccounting({ cpuSec: 1, maxProcesses: 1, maxFileBytes: 1 });
  if (probe === null) return { ok: false, reason: 'cannot create a cgroup (not root?)' };
  await probe.finish();
  return { ok: true, kind: 'v1' };
}

export async function createTreeAccounting(limits: ResourceLimits): Promise<TreeAccounting | null> {
  const name = `aas-${randomBytes(6).toString('hex')}`;
  const pidsDir = join(V1_PIDS, 'aas', name);
  const cpuDir = join(V1_CPUACCT, 'aas', name);
  try {
    await mkdir(pidsDir, { recursive: true });
    await mkdir(cpuDir, { recursive: true });
    await writeFile(join(pidsDir, 'pids.max'), String(limits.maxProcesses));
  } catch {
    await removeGroup(pidsDir);
    await removeGroup(cpuDir);
    return null;
  }
  const cpuLimitNs = BigInt(limits.cpuSec) * 1_000_000_000n;

  const read = async (): Promise<LimitReport | null> => {
    const events = await readFile(join(pidsDir, 'pids.events'), 'utf8').catch(() => '');
    const refusedForks = Number(/^max\s+(\d+)/m.exec(events)?.[1] ?? '0');
    if (refusedForks > 0) {
      return {
        hit: 'processes',
        detail: `the process tree reached its cap of ${limits.maxProcesses} processes (${refusedForks} fork(s) refused)`,
      };
    }
    const usage = await readFile(join(cpuDir, 'cpuacct.usage'), 'utf8').catch(() => '0');
    const usedNs = BigInt(usage.trim() || '0');
    if (usedNs > cpuLimitNs) {
      return {
        hit: 'cpu',
        detail: `the process tree used ${(Number(usedNs / 1_000_000n) / 1000).toFixed(1)} s of CPU, over its ${limits.cpuSec} s limit`,
      };
    }
    return null;
  };

  return {
    procsFiles: [join(pidsDir, 'cgroup.procs'), join(cpuDir, 'cgroup.procs')],
    monitor: { intervalMs: POLL_MS, check: read },
    members: () => readPids(pidsDir),
    finish: async () => {
      const report = await read();
      await killMembers(pidsDir);
      await removeGroup(pidsDir);
      await removeGroup(cpuDir);
      return report;
    },
  };
}

/**
 * The shell that joins the groups, then execs the real command: `sh -c SCRIPT sh f1 f2 -- cmd…`.
 * It runs on the host before any untrusted code, so a failure to join stops the launch (125).
 */
export function trampoline(
  procsFiles: readonly string[],
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  const script =
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
  return { command: '/bin/sh', args: ['-c', script, 'sh', ...procsFiles, '--', command, ...args] };
}

async function readPids(dir: string): Promise<number[]> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
}

async function killMembers(dir: string): Promise<void> {
  for (let round = 0; round < 20; round += 1) {
    const pids = await readPids(dir);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function removeGroup(dir: string): Promise<void> {
  for (let round = 0; round < 20; round += 1) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      // EBUSY while the last killed processes are reaped.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/**
 * Removes per-launch groups a killed AAS process left behind: empty (no process) and older
 * than `olderThanMs`, so a group another process just created and is about to join is never
 * taken from under it. Returns how many were removed.
 */
export async function collectStaleTreeGroups(options: {
  readonly olderThanMs: number;
  readonly nowMs: number;
}): Promise<number> {
  let removed = 0;
  for (const root of [V1_PIDS, V1_CPUACCT]) {
    const parent = join(root, 'aas');
    let names: string[];
    try {
      names = await readdir(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!/^aas-[0-9a-f]{12}$/.test(name)) continue;
      const dir = join(parent, name);
      try {
        const created = (await stat(dir)).mtimeMs;
        if (options.nowMs - created < options.olderThanMs) continue;
        if ((await readPids(dir)).length > 0) continue;
        await rmdir(dir);
        removed += 1;
      } catch {
        // Busy or gone: the next collection looks again.
      }
    }
  }
  return removed;
}

/** How this host enforces the process cap and the CPU limit; recorded with every run. */
export interface LimitEnforcement {
  /** cgroup: the whole tree; rlimit: RLIMIT_NPROC in the sandbox's user namespace; none. */
  readonly processCap: 'cgroup' | 'rlimit' | 'none';
  /** tree: all processes together (cgroup); per-process: RLIMIT_CPU only. */
  readonly cpu: 'tree' | 'per-process';
}

let enforcement: Promise<LimitEnforcement> | null = null;

export function limitEnforcement(): Promise<LimitEnforcement> {
  enforcement ??= probeCgroupSupport().then((support) =>
    support.ok
      ? { processCap: 'cgroup', cpu: 'tree' }
      : {
          // The kernel exempts root from RLIMIT_NPROC, even inside a user namespace.
          processCap: process.getuid?.() === 0 ? 'none' : 'rlimit',
          cpu: 'per-process',
        },
  );
  return enforcement;
}
