import { join, resolve } from 'node:path';

/** The only part of an attempt directory a sandboxed process sees (read-write). */
export const AEP_DIR_NAME = 'aep';

/**
 * The fixed layout of one attempt directory. The agent's side of the protocol lives in
 * `<attempt>/aep/` (AEP_RUN_DIR): job.json, driver_result.json, events.ndjson, home/, tmp/,
 * artifacts/. Everything AAS writes after the agent ran (captured output, validator logs, the
 * base index that patch computation trusts) stays beside it, where no sandboxed process can
 * plant a symlink or rewrite it.
 */
export interface AttemptPaths {
  /** The attempt directory itself (host-only). */
  readonly attemptDir: string;
  /** `<attempt>/aep`: AEP_RUN_DIR, bound read-write into the sandbox. */
  readonly runDir: string;
  readonly jobSpec: string;
  readonly result: string;
  readonly eventLog: string;
  /** Captured by AAS outside the sandbox. */
  readonly stdout: string;
  readonly stderr: string;
  /** HOME of the agent: a private, empty directory instead of the host user's home. */
  readonly home: string;
  readonly tmp: string;
  readonly artifacts: string;
  /** Host-only scratch space of the sandbox backend (generated /etc files, proxy socket). */
  readonly sandboxScratch: string;
}

/** Absolute paths: the agent runs with cwd = workspace, where a relative path means something else. */
export function attemptPaths(attemptDir: string): AttemptPaths {
  const attempt = resolve(attemptDir);
  const runDir = join(attempt, AEP_DIR_NAME);
  return {
    attemptDir: attempt,
    runDir,
    jobSpec: join(runDir, 'job.json'),
    result: join(runDir, 'driver_result.json'),
    eventLog: join(runDir, 'events.ndjson'),
    stdout: join(attempt, 'stdout.log'),
    stderr: join(attempt, 'stderr.log'),
    home: join(runDir, 'home'),
    tmp: join(runDir, 'tmp'),
    artifacts: join(runDir, 'artifacts'),
    sandboxScratch: join(attempt, 'sandbox'),
  };
}
