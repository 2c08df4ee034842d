import { existsSync } from 'node:fs';
import { readdir, readlink, stat } from 'node:fs/promises';
import { AasError } from '../kernel/index.js';
import type { LaunchMonitor, LimitReport } from './launch-process.js';
import { measureTreeBytes } from './measure-tree-bytes.js';
import type { ResourceLimits } from './sandbox-backend.js';
import {
  createTreeAccounting,
  limitEnforcement,
  type TreeAccounting,
  trampoline,
} from './tree-accounting.js';

export const PRLIMIT_PATH = '/usr/bin/prlimit';
const SIGXCPU = 24;
const SIGXFSZ = 25;
const GROWTH_MIN_POLL_MS = 250;

/**
 * `prlimit … --` arguments for the kernel-enforced per-process limits: CPU seconds (soft, with
 * SIGKILL one second later if SIGXCPU is ignored), file size and, where the host has no pids
 * cgroup, the process count. Hard and soft are both set, and raising a hard limit needs a
 * privilege the sandboxed process never has.
 */
export function prlimitArgs(limits: ResourceLimits, withNproc: boolean): string[] {
  return [
    `--cpu=${limits.cpuSec}:${limits.cpuSec + 1}`,
    `--fsize=${limits.maxFileBytes}`,
    ...(withNproc ? [`--nproc=${limits.maxProcesses}`] : []),
    '--',
  ];
}

export function prlimitAvailable(): boolean {
  return existsSync(PRLIMIT_PATH);
}

/**
 * Reads a kernel-enforced limit from how the leader ended: killed by SIGXCPU / SIGXFSZ (plain
 * backend), or bwrap's exit status 128 + that signal (bwrap reports its child's death that way).
 */
export function limitFromExit(
  limits: ResourceLimits,
  exitCode: number | null,
  signal: string | null,
): LimitReport | null {
  if (signal === 'SIGXCPU' || exitCode === 128 + SIGXCPU) {
    return { hit: 'cpu', detail: `a process used more than ${limits.cpuSec} s of CPU` };
  }
  if (signal === 'SIGXFSZ' || exitCode === 128 + SIGXFSZ) {
    return {
      hit: 'fileSize',
      detail: `a process tried to write a file larger than ${limits.maxFileBytes} bytes`,
    };
  }
  return null;
}

/**
 * Polls the growth of the writable directories against their size at launch. The interval
 * stretches to ten times the last walk, so a large worktree is not re-walked back to back.
 */
export async function growthMonitor(
  limits: ResourceLimits,
  members?: () => Promise<number[]>,
): Promise<LaunchMonitor | null> {
  const growth = limits.growth;
  if (growth === undefined || growth.paths.length === 0) return null;
  const baseline = await measureTreeBytes(growth.paths);
  let intervalMs = GROWTH_MIN_POLL_MS;
  return {
    get intervalMs() {
      return intervalMs;
    },
    check: async () => {
      const started = performance.now();
      // A file deleted while still open has no name left to walk, yet holds its disk space.
      const held = members === undefined ? 0 : await heldDeletedBytes(await members());
      const now = held + (await measureTreeBytes(growth.paths, baseline + growth.maxBytes));
      intervalMs = Math.max(GROWTH_MIN_POLL_MS, (performance.now() - started) * 10);
      if (now - baseline <= growth.maxBytes) return null;
      return {
        hit: 'workspaceGrowth',
        detail: `the workspace grew by more than ${growth.maxBytes} bytes (now ${now - baseline} bytes over its start)`,
      };
    },
  };
}

/**
 * Wraps `command args` (already wrapped by the backend, e.g. in bwrap) with the limits every
 * backend enforces: cgroup accounting where the host has it, prlimit inside, growth watching.
 * `inner` receives the prlimit prefix to put in front of the untrusted command.
 */
export async function planResourceLimits(
  limits: ResourceLimits | undefined,
  build: (prlimitPrefix: readonly string[]) => { command: string; args: readonly string[] },
  options: { readonly nprocFallback: boolean },
): Promise<{
  command: string;
  args: readonly string[];
  monitors: LaunchMonitor[];
  limitFromExit: (exitCode: number | null, signal: string | null) => LimitReport | null;
  afterExit?: () => Promise<LimitReport | null>;
}> {
  if (limits === undefined) {
    const plain = build([]);
    return { ...plain, monitors: [], limitFromExit: () => null };
  }
  const accounting = await createTreeAccounting(limits);
  await refuseLessThanRecorded(limits, accounting);
  const prefix = prlimitAvailable()
    ? [PRLIMIT_PATH, ...prlimitArgs(limits, accounting === null && options.nprocFallback)]
    : [];
  const inner = build(prefix);
  const wrapped =
    accounting === null ? inner : trampoline(accounting.procsFiles, inner.command, inner.args);
  const growth = await growthMonitor(limits, accounting?.members);
  const monitors = [
    ...(accounting === null ? [] : [accounting.monitor]),
    ...(growth === null ? [] : [growth]),
  ];
  return {
    command: wrapped.command,
    args: wrapped.args,
    monitors,
    limitFromExit: (exitCode, signal) => limitFromExit(limits, exitCode, signal),
    // Once more after the leader exited: a burst written just before exit (between two polls)
    // still counts, and the cgroups are emptied and removed.
    afterExit: async () => {
      const tree = accounting === null ? null : await accounting.finish();
      const grown = growth === null ? null : await growth.check();
      return tree ?? grown;
    },
  };
}

/**
 * Bytes held by files that the tree still has open but whose names are gone (`… (deleted)` in
 * /proc/<pid>/fd), counted once per inode. Memory files (memfd) count too.
 */
export async function heldDeletedBytes(pids: readonly number[]): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  for (const pid of pids) {
    const fdDir = `/proc/${pid}/fd`;
    let fds: string[];
    try {
      fds = await readdir(fdDir);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const path = `${fdDir}/${fd}`;
      try {
        if (!(await readlink(path)).endsWith(' (deleted)')) continue;
        const stats = await stat(path);
        if (!stats.isFile()) continue;
        const key = `${stats.dev}:${stats.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        total += Math.max(stats.size, stats.blocks * 512);
      } catch {
        // The descriptor closed meanwhile.
      }
    }
  }
  return total;
}

/**
 * Fails closed when this launch cannot have the groups the host was probed to provide (a full
 * hierarchy, a removed controller): every run records how its limits are enforced from that
 * probe (`sandbox.selected`), so a launch without them would run with less than its record says.
 */
async function refuseLessThanRecorded(
  limits: ResourceLimits,
  accounting: TreeAccounting | null,
): Promise<void> {
  const enforcement = await limitEnforcement();
  const missing =
    enforcement.processCap === 'cgroup' && accounting === null
      ? 'its pids and cpuacct cgroups'
      : enforcement.memory === 'cgroup' &&
          limits.maxMemoryBytes !== undefined &&
          accounting?.memory === null
        ? 'its memory cgroup'
        : null;
  if (missing === null) return;
  await accounting?.finish();
  throw new AasError(
    'SANDBOX_UNAVAILABLE',
    `could not create ${missing}, which this host provided when AAS started: the process would run without its limits`,
    { hint: 'see `aas doctor`; check that /sys/fs/cgroup is still writable and not full' },
  );
}
