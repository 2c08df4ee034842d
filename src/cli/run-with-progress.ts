import type { Runtime } from '../app/index.js';
import type { AgentManifest } from '../drivers/index.js';
import { isAasError } from '../kernel/index.js';
import {
  executeRun,
  type JobSpec,
  type RunOutcome,
  requireAgentInput,
  submitRun,
} from '../runner/index.js';
import { type CliIo, println } from './cli-io.js';
import { attachProgressPrinter, attachWarningPrinter } from './progress-printer.js';

/** Submits a job as the CLI user and runs it here, printing phase lines unless `quiet`. */
export async function runWithProgress(
  io: CliIo,
  runtime: Runtime,
  job: JobSpec,
  quiet: boolean,
): Promise<RunOutcome> {
  const deps = runtime.runnerDeps();
  // Refused before anything is recorded, as a server refuses it at submission: an unknown
  // agent, a command agent without its command. An agent known but not installed here is left
  // to the run, which records it blocked with how to install it.
  for (const agent of [job.agent, ...job.fallbackAgents]) {
    let manifest: AgentManifest;
    try {
      manifest = deps.registry.get(agent);
    } catch (thrown) {
      if (isAasError(thrown) && thrown.code === 'AGENT_UNAVAILABLE') continue;
      throw thrown;
    }
    requireAgentInput(manifest, job);
  }
  let sessionId: string | null = null;
  const detachProgress = quiet
    ? () => {}
    : attachProgressPrinter(runtime.bus, io.stdout, () => sessionId);
  const detachWarnings = attachWarningPrinter(runtime.bus, io.stderr, () => sessionId);
  const detach = (): void => {
    detachProgress();
    detachWarnings();
  };
  try {
    const submitted = await submitRun(deps, job, io.user, { reserveFor: deps });
    sessionId = submitted.sessionId;
    if (!quiet) println(io.stdout, `session ${submitted.sessionId} (requested by ${io.user})`);
    return await executeRun(deps, submitted.runId, { signal: io.signal });
  } finally {
    detach();
  }
}
