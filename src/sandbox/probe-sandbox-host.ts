import { spawnSync } from 'node:child_process';
import type { Clock } from '../kernel/index.js';
import { createBubblewrapBackend, DEFAULT_BWRAP_PATH } from './bubblewrap-backend.js';
import { PRLIMIT_PATH, prlimitAvailable } from './resource-limit-plan.js';
import { DENIED_SYSCALLS } from './seccomp-filter.js';
import { type CgroupSupport, probeCgroupSupport } from './tree-accounting.js';

export interface HostCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface SandboxHostReport {
  /** True when `sandbox: required` can run here. */
  readonly isolationAvailable: boolean;
  readonly checks: readonly HostCheck[];
}

/**
 * What this host can enforce, for `aas doctor`: a real bubblewrap sandbox with every
 * namespace a launch uses, the kernel limits (prlimit) and whole-tree accounting (cgroups).
 */
export async function probeSandboxHost(deps: {
  clock: Clock;
  nodePath: string;
  bwrapPath?: string;
}): Promise<SandboxHostReport> {
  const bwrapPath = deps.bwrapPath ?? DEFAULT_BWRAP_PATH;
  const backend = createBubblewrapBackend({
    clock: deps.clock,
    nodePath: deps.nodePath,
    bwrapPath,
  });
  const selfTest = await backend.selfTest();
  const version = spawnSync(bwrapPath, ['--version'], { encoding: 'utf8', env: {} });
  const cgroups = await probeCgroupSupport();
  const uid = process.getuid?.() ?? -1;
  const checks: HostCheck[] = [
    {
      name: 'bubblewrap',
      ok: selfTest.ok,
      detail: selfTest.ok
        ? `${version.stdout.trim() || bwrapPath}: user, pid, ipc, uts and network namespaces work`
        : (selfTest.reason ?? 'self-test failed'),
    },
    {
      name: 'kernel limits',
      ok: prlimitAvailable(),
      detail: prlimitAvailable()
        ? `${PRLIMIT_PATH}: CPU time and file size per process`
        : `${PRLIMIT_PATH} missing (util-linux): CPU and file-size limits are not enforced`,
    },
    {
      name: 'process-tree accounting',
      ok: cgroups.ok,
      detail: cgroups.ok
        ? 'cgroup v1 pids + cpuacct: process cap and CPU time for the whole tree'
        : uid === 0
          ? `${cgroups.reason}: running as root, so the process cap is NOT enforced (the kernel exempts root from RLIMIT_NPROC)`
          : `${cgroups.reason}: the process cap falls back to RLIMIT_NPROC inside the sandbox's user namespace`,
    },
    {
      name: 'memory limit',
      ok: cgroups.ok && !('unavailable' in cgroups.memory),
      detail: memoryDetail(cgroups),
    },
    {
      name: 'system-call filter',
      ok: backend.syscallFilter === 'seccomp',
      detail:
        backend.syscallFilter === 'seccomp'
          ? `seccomp (${process.arch}): ${DENIED_SYSCALLS.length} calls refused, ptrace, bpf, keyring and io_uring among them`
          : `no seccomp table for ${process.arch}: sandboxed processes may ptrace each other and bwrap's init`,
    },
  ];
  return { isolationAvailable: selfTest.ok, checks };
}

function memoryDetail(cgroups: CgroupSupport): string {
  if (!cgroups.ok) return `${cgroups.reason}: limits.maxMemoryBytes is NOT enforced`;
  if ('unavailable' in cgroups.memory) {
    return `${cgroups.memory.unavailable}: limits.maxMemoryBytes is NOT enforced`;
  }
  return cgroups.memory.swapCounted
    ? 'cgroup v1 memory: limits.maxMemoryBytes caps the whole tree, swap, /tmp and /dev/shm included'
    : 'cgroup v1 memory: limits.maxMemoryBytes caps the whole tree, /tmp and /dev/shm included, but NOT its swap (the kernel has no swap accounting: boot with swapaccount=1)';
}
