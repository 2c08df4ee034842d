import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { AasError, type Clock } from '../kernel/index.js';
import { OutputCapture } from './output-capture.js';
import { signalProcessGroup, trackProcessGroup, untrackProcessGroup } from './process-group.js';
import {
  DEFAULT_KILL_GRACE_MS,
  type LaunchOutcome,
  type LaunchSpec,
  type LimitHit,
} from './sandbox-backend.js';

/** setTimeout silently turns larger delays into 1 ms, which would kill every process at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * How long to wait, after the leader exited and its group was killed, for the pipes to reach
 * EOF. Only a descendant that left the group (setsid) can hold them open longer; output it
 * writes after this is dropped. Independent of killGraceMs so a zero grace cannot cut off the
 * tail of legitimate output still sitting in the pipe.
 */
const PIPE_CLOSE_WAIT_MS = 2000;

type KillReason = 'timeout' | 'output' | 'cancel' | 'limit';

export interface LimitReport {
  readonly hit: LimitHit;
  readonly detail: string;
}

/** A host-side watcher polled while the process runs; a report kills the process group. */
export interface LaunchMonitor {
  readonly intervalMs: number;
  check(): Promise<LimitReport | null>;
}

/** How a backend wraps the spec: the real argv and env, and limits it watches. */
export interface LaunchPlan {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly monitors: readonly LaunchMonitor[];
  /** Maps how the leader ended to a limit the kernel enforced (SIGXCPU, SIGXFSZ). */
  readonly limitFromExit: (exitCode: number | null, signal: string | null) => LimitReport | null;
  /** After the leader exits: e.g. counters that saw a limit, then kill the rest of the tree. */
  readonly afterExit?: () => Promise<LimitReport | null>;
  /** Open descriptors the leader inherits as fd 3, 4, … (bwrap reads its seccomp program so). */
  readonly inheritFds?: readonly number[];
}

/**
 * Runs one process in its own process group with an exact environment, captured output, a
 * wall-clock limit and an output cap, and resolves (never rejects for anything the process
 * does) once the process has exited and both capture files are flushed.
 *
 * Backends share this: the plain backend runs the command directly; an isolating backend
 * passes its wrapper (for example `bwrap … -- command`) as the command.
 */
export async function launchProcess(
  spec: LaunchSpec,
  clock: Clock,
  plan?: LaunchPlan,
): Promise<LaunchOutcome> {
  try {
    assertValidSpec(spec);
  } catch (error) {
    // The plan's groups were made for this launch: none outlives a launch that never starts.
    await plan?.afterExit?.().catch(() => null);
    throw error;
  }
  const startedMs = clock.nowMs();
  const capture = new OutputCapture(
    { stdout: spec.stdoutPath, stderr: spec.stderrPath },
    spec.maxOutputBytes,
  );

  const notStarted = async (fields: {
    cancelled?: boolean;
    spawnError?: string;
  }): Promise<LaunchOutcome> => {
    await capture.close();
    // The plan may hold resources (cgroups) that only the end of a launch releases.
    await plan?.afterExit?.().catch(() => null);
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      outputLimitExceeded: false,
      cancelled: fields.cancelled ?? false,
      limitHit: null,
      stdoutBytes: 0,
      stderrBytes: 0,
      durationMs: clock.nowMs() - startedMs,
      ...(fields.spawnError === undefined ? {} : { spawnError: fields.spawnError }),
    };
  };

  if (spec.signal?.aborted) return notStarted({ cancelled: true });
  // spawn reports a missing cwd as "spawn <command> ENOENT", which blames the wrong thing.
  const cwdProblem = checkCwd(spec.cwd);
  if (cwdProblem !== null) return notStarted({ spawnError: cwdProblem });

  let child: ChildProcess;
  try {
    child = spawn(plan?.command ?? spec.command, [...(plan?.args ?? spec.args)], {
      cwd: spec.cwd,
      env: { ...(plan?.env ?? spec.env) },
      // A new session and process group, so one signal reaches every descendant that stays in it.
      detached: true,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe', ...(plan?.inheritFds ?? [])],
      windowsHide: true,
    });
  } catch (error) {
    // Invalid arguments (a NUL byte in an argument or env value) throw synchronously.
    return notStarted({ spawnError: (error as Error).message });
  }

  return new Promise<LaunchOutcome>((resolve) => {
    const graceMs = spec.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    const pid = child.pid;
    if (pid !== undefined) trackProcessGroup(pid);
    let killReason: KillReason | null = null;
    let limitReport: LimitReport | null = null;
    const monitorTimers: NodeJS.Timeout[] = [];
    let exit: { code: number | null; signal: string | null } | null = null;
    let spawnError: string | undefined;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;

    const startKill = (reason: KillReason, report: LimitReport | null = null): void => {
      // The first reason wins; once the leader is gone its group was already killed on exit.
      if (killReason !== null || exit !== null || pid === undefined) return;
      killReason = reason;
      limitReport = report;
      signalProcessGroup(pid, 'SIGTERM');
      graceTimer = setTimeout(() => signalProcessGroup(pid, 'SIGKILL'), graceMs);
    };

    const timeoutTimer = setTimeout(() => startKill('timeout'), spec.timeoutMs);
    const onAbort = (): void => startKill('cancel');
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    for (const monitor of plan?.monitors ?? []) {
      const tick = (): void => {
        monitor.check().then(
          (report) => {
            if (report !== null) startKill('limit', report);
            else if (exit === null && !settled)
              monitorTimers.push(setTimeout(tick, monitor.intervalMs));
          },
          // A watcher that cannot read its source stops watching; the other limits still hold.
          () => undefined,
        );
      };
      monitorTimers.push(setTimeout(tick, monitor.intervalMs));
    }

    const finish = async (): Promise<void> => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      clearTimeout(closeTimer);
      spec.signal?.removeEventListener('abort', onAbort);
      for (const timer of monitorTimers) clearTimeout(timer);
      await capture.close();
      // Counters that saw a limit after the fact (and the final sweep of the tree) run always;
      // a limit only explains the end when nothing else killed the process first.
      const late = plan?.afterExit === undefined ? null : await plan.afterExit().catch(() => null);
      if (killReason === null) {
        limitReport = plan?.limitFromExit(exit?.code ?? null, exit?.signal ?? null) ?? late;
      }
      const captureError = capture.captureError;
      const startError =
        pid === undefined ? (spawnError ?? 'the process did not start') : undefined;
      // Output that crossed the cap after the leader exited (still draining from the pipe) is
      // an overflow too, even though there was nothing left to kill.
      const reason = killReason ?? (capture.limitExceeded ? 'output' : null);
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut: reason === 'timeout',
        outputLimitExceeded: reason === 'output',
        cancelled: reason === 'cancel',
        limitHit: reason === null || reason === 'limit' ? (limitReport?.hit ?? null) : null,
        ...(limitReport !== null && (reason === null || reason === 'limit')
          ? { limitDetail: limitReport.detail }
          : {}),
        stdoutBytes: capture.stdoutBytes,
        stderrBytes: capture.stderrBytes,
        durationMs: clock.nowMs() - startedMs,
        ...(startError === undefined ? {} : { spawnError: startError }),
        ...(captureError === undefined ? {} : { captureError }),
      });
    };

    if (child.stdout !== null) {
      capture.attach('stdout', child.stdout, () => startKill('output'));
    }
    if (child.stderr !== null) {
      capture.attach('stderr', child.stderr, () => startKill('output'));
    }

    child.on('error', (error) => {
      // After a successful start, 'error' only reports a failed kill(); the exit still comes.
      if (pid !== undefined) return;
      spawnError = error.message;
      void finish();
    });

    child.on('exit', (code, signal) => {
      exit = { code, signal };
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      for (const timer of monitorTimers) clearTimeout(timer);
      if (pid === undefined) return;
      // The attempt is over when its leader exits: anything it left behind in the group is an
      // orphan nobody will wait for, so it is killed outright.
      signalProcessGroup(pid, 'SIGKILL');
      untrackProcessGroup(pid);
      // A descendant that left the group (setsid) may still hold our pipes open; do not wait
      // for it forever.
      closeTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        void finish();
      }, PIPE_CLOSE_WAIT_MS);
    });

    child.on('close', () => void finish());
  });
}

function assertValidSpec(spec: LaunchSpec): void {
  const problems: string[] = [];
  if (spec.command.length === 0) problems.push('command is empty');
  if (!Number.isFinite(spec.timeoutMs) || spec.timeoutMs <= 0 || spec.timeoutMs > MAX_TIMER_MS) {
    problems.push(`timeoutMs must be in (0, ${MAX_TIMER_MS}], got ${spec.timeoutMs}`);
  }
  const grace = spec.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  if (!Number.isFinite(grace) || grace < 0 || grace > MAX_TIMER_MS) {
    problems.push(`killGraceMs must be in [0, ${MAX_TIMER_MS}], got ${grace}`);
  }
  if (!Number.isSafeInteger(spec.maxOutputBytes) || spec.maxOutputBytes < 0) {
    problems.push(`maxOutputBytes must be a non-negative integer, got ${spec.maxOutputBytes}`);
  }
  if (problems.length > 0) {
    throw new AasError('INTERNAL', `invalid launch spec: ${problems.join('; ')}`);
  }
}

function checkCwd(cwd: string): string | null {
  try {
    return statSync(cwd).isDirectory() ? null : `working directory is not a directory: ${cwd}`;
  } catch {
    return `working directory does not exist: ${cwd}`;
  }
}
