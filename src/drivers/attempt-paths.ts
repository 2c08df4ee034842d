import { join, resolve } from 'node:path';

/** The fixed layout of one attempt directory (AEP_RUN_DIR). */
export interface AttemptPaths {
  readonly runDir: string;
  readonly jobSpec: string;
  readonly result: string;
  readonly eventLog: string;
  readonly stdout: string;
  readonly stderr: string;
  /** HOME of the agent: a private, empty directory instead of the host user's home. */
  readonly home: string;
  readonly tmp: string;
  readonly artifacts: string;
}

/** Absolute paths: the agent runs with cwd = workspace, where a relative path means something else. */
export function attemptPaths(attemptDir: string): AttemptPaths {
  const runDir = resolve(attemptDir);
  return {
    runDir,
    jobSpec: join(runDir, 'job.json'),
    result: join(runDir, 'driver_result.json'),
    eventLog: join(runDir, 'events.ndjson'),
    stdout: join(runDir, 'stdout.log'),
    stderr: join(runDir, 'stderr.log'),
    home: join(runDir, 'home'),
    tmp: join(runDir, 'tmp'),
    artifacts: join(runDir, 'artifacts'),
  };
}
