import { IdPrefix, newId } from '../kernel/index.js';
import { sessionEvent } from '../sessions/index.js';
import { canonicalRepoPath } from './canonical-repo-path.js';
import type { JobSpec } from './job-spec.js';
import type { RunnerDeps } from './runner-deps.js';

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
  const job = { ...submitted, repo: canonicalRepoPath(submitted.repo) };
  const nowMs = deps.clock.nowMs();
  const at = deps.clock.nowIso();
  const sessionId = newId(IdPrefix.session, nowMs);
  const runId = newId(IdPrefix.run, nowMs);
  const events = [
    sessionEvent('session.created', {
      task: job.task,
      repo: job.repo,
      agent: job.agent,
      requestedBy,
      labels: job.labels,
    }),
    sessionEvent('run.queued', { runId, jobSpec: job }),
  ].map((event) => ({ ...event, at, actor: requestedBy }));
  const stored = await deps.store.createSession({
    session: {
      id: sessionId,
      createdAt: at,
      task: job.task,
      repo: job.repo,
      agent: job.agent,
      requestedBy,
      labels: job.labels,
    },
    run: {
      id: runId,
      createdAt: at,
      jobSpec: job,
      priority: job.priority,
      // A run reserved for one process is never requeued: no one else was meant to run it.
      maxClaims: options.reserveFor ? 1 : 1 + job.interruptRetries,
      ...(options.reserveFor
        ? {
            reservedBy: {
              leaseOwner: options.reserveFor.owner,
              leaseExpiresAt: new Date(nowMs + options.reserveFor.runLeaseMs).toISOString(),
            },
          }
        : {}),
    },
    events,
  });
  deps.bus.publish(stored);
  return { sessionId, runId };
}
