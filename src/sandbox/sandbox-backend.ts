/**
 * The seam between "what to run" and "how it is contained". The runner and gates hand a
 * LaunchSpec to whichever backend `selectSandbox` chose; only backends touch processes.
 * A bubblewrap backend plugs in here later by implementing the same interface (it can reuse
 * `launchProcess` with `bwrap` as the command), so nothing above this layer changes.
 */

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
}

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
  /** Probes whether this host can actually provide the backend right now. */
  selfTest(): Promise<SandboxSelfTest>;
  launch(spec: LaunchSpec): Promise<LaunchOutcome>;
}

export const DEFAULT_KILL_GRACE_MS = 2000;
