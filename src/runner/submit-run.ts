import { checkTargetBranch, type JobSpec } from './job-spec.js';
import { newSubmission } from './new-submission.js';
import type { RunnerDeps } from './runner-deps.js';
import { withTargetBranch } from './with-target-branch.js';

/** Records a new session with its run in `queued`. Nothing runs yet. */
export async function submitRun(
  deps: Pick<RunnerDeps, 'store' | 'clock' | 'bus'>,
  submitted: JobSpec,
  requestedBy: string,
  options: {
    /**
     * Reserve the run for this runner, which will execute it at once: if the process dies before
     * claiming it, recovery ends the run instead of leaving it queued forever.
     */
    reserveFor?: Pick<RunnerDeps, 'owner' | 'runLeaseMs'>;
  } = {},
): Promise<{ sessionId: string; runId: string }> {
  checkTargetBranch(submitted);
  const job = await withTargetBranch(submitted);
  const nowMs = deps.clock.nowMs();
  const submission = newSubmission(
    job,
    requestedBy,
    { nowMs },
    options.reserveFor
      ? {
          reservedBy: {
            leaseOwner: options.reserveFor.owner,
            leaseExpiresAt: new Date(nowMs + options.reserveFor.runLeaseMs).toISOString(),
          },
        }
      : {},
  );
  const stored = await deps.store.createSession(submission.create);
  deps.bus.publish(stored);
  return { sessionId: submission.sessionId, runId: submission.runId };
}
