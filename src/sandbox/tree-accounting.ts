import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LaunchMonitor, LimitReport } from './launch-process.js';
import type { ResourceLimits } from './sandbox-backend.js';

const POLL_MS = 250;
const V1_PIDS = '/sys/fs/cgroup/pids';
const V1_CPUACCT = '/sys/fs/cgroup/cpuacct';
const V1_MEMORY = '/sys/fs/cgroup/memory';
const V1_ROOTS = { pids: V1_PIDS, cpuacct: V1_CPUACCT, memory: V1_MEMORY } as const;
export type TreeController = keyof typeof V1_ROOTS;

let ownGroups: Readonly<Record<string, string>> | null = null;

/**
 * The directory under which launches get their groups of `controller`: `aas/` inside the group
 * this process itself is in (`/proc/self/cgroup`), so whatever the host set on AAS (a service's
 * or a container's memory limit) still holds for the trees it starts; a group made at the
 * hierarchy's root would leave those limits behind (measured: a 400 MiB allocation passed a
 * 150 MiB limit set on AAS's own group). The hierarchy's root when this process's group is not
 * visible there.
 */
export function treeGroupParent(controller: TreeController): string {
  ownGroups ??= readOwnGroups();
  const own = ownGroups[controller] ?? '/';
  const root = V1_ROOTS[controller];
  const dir = join(root, own);
  return join(existsSync(dir) ? dir : root, 'aas');
}

/** `controller → path` from `/proc/self/cgroup` (`4:memory:/a/b`, `2:cpu,cpuacct:/c`). */
function readOwnGroups(): Record<string, string> {
  const groups: Record<string, string> = {};
  let text = '';
  try {
    text = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return groups;
  }
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (match === null) continue;
    for (const controller of (match[1] ?? '').split(',')) groups[controller] = match[2] ?? '/';
  }
  return groups;
}

/**
 * Whole-tree accounting through cgroups: a cap on live processes (pids.max), the CPU time of
 * every process together and, where the host has the memory controller, a cap on the memory the
 * tree holds (memory.limit_in_bytes, and swap where the kernel accounts it). RLIMIT_NPROC cannot do the first when the
 * host runs as root: the kernel exempts root's processes from it even inside a user namespace
 * (measured: 44 processes started under `prlimit --nproc=20` in bwrap as root), RLIMIT_CPU is
 * per process, and no rlimit caps memory (RLIMIT_AS counts address space a runtime reserves and
 * never touches, so it fails Node and wasm long before they use the memory).
 *
 * The leader joins the groups before it execs bwrap (see `trampoline`), so nothing it starts
 * can be outside them.
 */
export interface TreeAccounting {
  /** `cgroup.procs` files the leader writes its pid into before exec. */
  readonly procsFiles: readonly string[];
  readonly monitor: LaunchMonitor;
  /** How the tree's memory is capped: null when it is not (no writable memory controller). */
  readonly memory: MemoryCap | null;
  /** Pids of every process in the tree right now. */
  members(): Promise<number[]>;
  /** Final reading, kills whatever is left in the groups, removes them. */
  finish(): Promise<LimitReport | null>;
}

/** A memory group's cap: swapCounted when the kernel charges swap too (memsw). */
export interface MemoryCap {
  readonly swapCounted: boolean;
}

export type CgroupSupport =
  | {
      readonly ok: true;
      readonly kind: 'v1';
      /** How a tree's memory is capped here, or why it cannot be. */
      readonly memory: MemoryCap | { readonly unavailable: string };
    }
  | { readonly ok: false; readonly reason: string };

/** Can this host give each launch its own pids + cpuacct cgroup? Probed by creating one. */
export async function probeCgroupSupport(): Promise<CgroupSupport> {
  if (!existsSync(join(V1_PIDS, 'cgroup.procs')) || !existsSync(join(V1_CPUACCT, 'cgroup.procs')))
    return {
      ok: false,
      reason: 'no writable cgroup v1 pids and cpuacct hierarchies under /sys/fs/cgroup',
    };
  const probe = await createTreeAccounting({
    cpuSec: 1,
    maxProcesses: 1,
    maxFileBytes: 1,
    maxMemoryBytes: PROBE_MEMORY_BYTES,
  });
  if (probe === null) return { ok: false, reason: 'cannot create a cgroup (not root?)' };
  await probe.finish();
  return {
    ok: true,
    kind: 'v1',
    memory: probe.memory ?? {
      unavailable: 'no writable cgroup v1 memory hierarchy under /sys/fs/cgroup',
    },
  };
}

const PROBE_MEMORY_BYTES = 64 * 1024 * 1024;

export async function createTreeAccounting(limits: ResourceLimits): Promise<TreeAccounting | null> {
  const name = `aas-${randomBytes(6).toString('hex')}`;
  const pidsDir = join(treeGroupParent('pids'), name);
  const cpuDir = join(treeGroupParent('cpuacct'), name);
  try {
    await mkdir(pidsDir, { recursive: true });
    await mkdir(cpuDir, { recursive: true });
    await writeFile(join(pidsDir, 'pids.max'), String(limits.maxProcesses));
  } catch {
    await removeGroup(pidsDir);
    await removeGroup(cpuDir);
    return null;
  }
  const memory =
    limits.maxMemoryBytes === undefined
      ? null
      : await createMemoryGroup(join(treeGroupParent('memory'), name), limits.maxMemoryBytes);
  const memoryDir = memory?.dir ?? null;
  const cpuLimitNs = BigInt(limits.cpuSec) * 1_000_000_000n;

  const read = async (): Promise<LimitReport | null> => {
    // First: a tree out of memory may also have had forks refused or burnt CPU reclaiming.
    if (memoryDir !== null) {
      const control = await readFile(join(memoryDir, 'memory.oom_control'), 'utf8').catch(() => '');
      const killed = Number(/^oom_kill\s+(\d+)/m.exec(control)?.[1] ?? '0');
      // oom_kill also counts kills an outer group's or the host's shortage chose in this tree:
      // only a tree that reached its own limit is this limit's doing.
      if (killed > 0 && (await reachedOwnLimit(memoryDir, limits.maxMemoryBytes ?? 0))) {
        return {
          hit: 'memory',
          detail: `the process tree reached its memory limit of ${limits.maxMemoryBytes} bytes (${killed} process(es) killed by the kernel)`,
        };
      }
    }
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
    procsFiles: [
      join(pidsDir, 'cgroup.procs'),
      join(cpuDir, 'cgroup.procs'),
      ...(memoryDir === null ? [] : [join(memoryDir, 'cgroup.procs')]),
    ],
    monitor: { intervalMs: POLL_MS, check: read },
    memory: memory === null ? null : { swapCounted: memory.swapCounted },
    members: () => readPids(pidsDir),
    finish: async () => {
      const report = await read();
      await killMembers(pidsDir);
      await removeGroup(pidsDir);
      await removeGroup(cpuDir);
      if (memoryDir !== null) {
        // Pages still charged (the workspace files it wrote, in the page cache) would keep a
        // removed group alive in the kernel; emptied first, they go to the parent.
        await writeFile(join(memoryDir, 'memory.force_empty'), '0').catch(() => undefined);
        await removeGroup(memoryDir);
      }
      return report;
    },
  };
}

/**
 * A memory group capped at `maxBytes`, swap included where the kernel accounts it (memsw, so a
 * tree cannot swap its way past the cap), or null when this host has no writable memory
 * controller. Memory-backed files (the sandbox's /tmp and /dev/shm, memfd) are charged to the
 * writer's group too. Measured: `bytearray(300 MiB)` under a 64 MiB cap is killed (exit 137) and
 * `memory.oom_control` then reads `oom_kill 1`.
 */
async function createMemoryGroup(
  dir: string,
  maxBytes: number,
): Promise<{ dir: string; swapCounted: boolean } | null> {
  if (!existsSync(join(V1_MEMORY, 'cgroup.procs'))) return null;
  try {
    await mkdir(dir, { recursive: true });
    // The plain limit first: the kernel refuses a memsw limit below it.
    await writeFile(join(dir, 'memory.limit_in_bytes'), String(maxBytes));
    const swapCounted = existsSync(join(dir, 'memory.memsw.limit_in_bytes'));
    if (swapCounted) await writeFile(join(dir, 'memory.memsw.limit_in_bytes'), String(maxBytes));
    return { dir, swapCounted };
  } catch {
    await removeGroup(dir);
    return null;
  }
}

/**
 * Whether the group's peak usage met its own limit (memory, or memory + swap). Not failcnt:
 * measured on a 6.18 kernel, it stays 0 through an OOM kill at the group's own limit, while
 * max_usage_in_bytes equals the limit exactly. The limit is rounded down to whole pages, and a
 * peak within a megabyte of it counts.
 */
async function reachedOwnLimit(dir: string, maxBytes: number): Promise<boolean> {
  for (const file of ['memory.max_usage_in_bytes', 'memory.memsw.max_usage_in_bytes']) {
    const peak = await readFile(join(dir, file), 'utf8').catch(() => '0');
    if (Number(peak.trim() || '0') >= maxBytes - PEAK_SLACK_BYTES) return true;
  }
  return false;
}

const PEAK_SLACK_BYTES = 1024 * 1024;

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
  const parents = new Set(
    (['pids', 'cpuacct', 'memory'] as const).flatMap((controller) => [
      treeGroupParent(controller),
      // Where groups were made before they went under this process's own group.
      join(V1_ROOTS[controller], 'aas'),
    ]),
  );
  for (const parent of parents) {
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
  /** cgroup: the tree's memory is capped; none: this host cannot cap it. */
  readonly memory: 'cgroup' | 'none';
}

let enforcement: Promise<LimitEnforcement> | null = null;

export function limitEnforcement(): Promise<LimitEnforcement> {
  enforcement ??= probeCgroupSupport().then((support) =>
    support.ok
      ? {
          processCap: 'cgroup',
          cpu: 'tree',
          memory: 'unavailable' in support.memory ? 'none' : 'cgroup',
        }
      : {
          // The kernel exempts root from RLIMIT_NPROC, even inside a user namespace.
          processCap: process.getuid?.() === 0 ? 'none' : 'rlimit',
          cpu: 'per-process',
          memory: 'none',
        },
  );
  return enforcement;
}
