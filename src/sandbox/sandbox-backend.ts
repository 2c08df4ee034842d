/**
 * The seam between "what to run" and "how it is contained". The runner and gates hand a
 * LaunchSpec to whichever backend `selectSandbox` chose; only backends touch processes.
 * The bubblewrap backend enforces `confinement` (filesystem, network, identity); every backend
 * enforces the time, output and resource limits.
 */

import type { EgressDecision } from './egress-proxy.js';

export type SandboxNetwork =
  | { readonly mode: 'disabled' }
  | { readonly mode: 'full' }
  | {
      readonly mode: 'allowlist';
      /** The merged policy's host rule. */
      readonly decide: (host: string, port: number) => boolean;
      /** Called once per connection attempt; must not throw. */
      readonly onDecision: (decision: EgressDecision) => void;
    };

export interface ResourceLimits {
  /** CPU seconds of the whole process tree (per process where the host has no cgroups). */
  readonly cpuSec: number;
  /** Processes alive at once in the tree. */
  readonly maxProcesses: number;
  /** Largest file any process may write. */
  readonly maxFileBytes: number;
  /**
   * Memory the whole tree may hold (swap and memory-backed files included), where the host has
   * a cgroup memory controller (`limitEnforcement().memory`); absent: not capped.
   */
  readonly maxMemoryBytes?: number;
  /** Total bytes these directories may grow by while the process runs. */
  readonly growth?: { readonly paths: readonly string[]; readonly maxBytes: number };
}

/** A Unix socket outside the sandbox that the process reaches as a TCP port on loopback. */
export interface LocalService {
  readonly socketPath: string;
  readonly port: number;
}

/** What an isolating backend lets the process see. The plain backend ignores all but limits. */
export interface Confinement {
  /** Host paths bound read-write at the same path: the workspace and the attempt's own dir. */
  readonly writablePaths: readonly string[];
  /** Host paths bound read-only at the same path (the agent's install dir); missing ones are skipped. */
  readonly readOnlyPaths: readonly string[];
  /** The attempt's tmp dir (TMPDIR); /tmp itself is a private tmpfs. */
  readonly tmpDir: string;
  /** HOME inside the sandbox (must be one of writablePaths or below one). */
  readonly homeDir: string;
  readonly network: SandboxNetwork;
  /**
   * Services AAS runs outside the sandbox (the model gateway) that the process reaches at
   * `127.0.0.1:<port>` whatever its network policy: each Unix socket is bound in and bridged.
   * The plain backend cannot bridge; the caller gives it a TCP service instead.
   */
  readonly localServices?: readonly LocalService[];
  /** Host-only directory for generated files (passwd, the proxy socket); never shown to the process. */
  readonly scratchDir: string;
}

export interface LaunchSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The EXACT environment of the process: nothing is inherited from the host. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** After SIGTERM to the process group, SIGKILL follows after this many ms (default 2000). */
  readonly killGraceMs?: number;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** stdout + stderr combined; exceeding it stops capture and kills the process group. */
  readonly maxOutputBytes: number;
  /** External cancel: aborting kills the process group. */
  readonly signal?: AbortSignal;
  readonly stdin?: 'ignore';
  readonly confinement?: Confinement;
  readonly limits?: ResourceLimits;
}

/** Which resource limit ended the process; each is its own reason code upstream. */
export type LimitHit = 'cpu' | 'processes' | 'memory' | 'fileSize' | 'workspaceGrowth';

export interface LaunchOutcome {
  /** Exit code of the started process, null when it died from a signal or never started. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /**
   * Why the backend killed the group. At most one of these is true: the first reason to kill
   * wins, so a run cancelled while it was flooding output reports only what happened first.
   */
  readonly timedOut: boolean;
  readonly outputLimitExceeded: boolean;
  readonly cancelled: boolean;
  /** A resource limit that was hit (and, except for fileSize, why the tree was killed). */
  readonly limitHit: LimitHit | null;
  /** Human-readable detail for limitHit. */
  readonly limitDetail?: string;
  /** Bytes written to the capture files (never more than maxOutputBytes together). */
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  readonly durationMs: number;
  /** Set when the process could not be started (missing binary, missing cwd, bad argument). */
  readonly spawnError?: string;
  /** Set when writing a capture file failed (for example, disk full); capture stopped there. */
  readonly captureError?: string;
}

export type SandboxBackendName = 'plain' | 'bubblewrap';

export interface SandboxSelfTest {
  readonly ok: boolean;
  readonly reason?: string;
}

export interface SandboxBackend {
  readonly name: SandboxBackendName;
  /** True only when the backend confines the process (filesystem, network, env) itself. */
  readonly isolating: boolean;
  /** Whether launched processes run under the seccomp deny-list (see seccomp-filter.ts). */
  readonly syscallFilter: 'seccomp' | 'none';
  /** Probes whether this host can actually provide the backend right now. */
  selfTest(): Promise<SandboxSelfTest>;
  launch(spec: LaunchSpec): Promise<LaunchOutcome>;
}

export const DEFAULT_KILL_GRACE_MS = 2000;
