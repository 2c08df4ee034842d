import { IdPrefix, newId } from '../kernel/index.js';
import { sessionEvent, type TypedEvent } from '../sessions/index.js';
import type { NewSessionWithRun } from '../store/index.js';
import { canonicalRepoPath } from './canonical-repo-path.js';
import { type JobSpec, runRequirements } from './job-spec.js';

export interface Submission {
  readonly sessionId: string;
  readonly runId: string;
  /** What `createSession` (or `fireSchedule`) records: a session, its queued run, their events. */
  readonly create: NewSessionWithRun;
}

/**
 * The records of a new session with one queued run, written once for every way a run is asked
 * for: `submitRun` (a person, now) and a schedule's fire (whose events follow `run.queued`).
 */
export function newSubmission(
  submitted: JobSpec,
  requestedBy: string,
  now: { readonly nowMs: number; readonly actor?: string },
  options: {
    /** A run reserved for one process: if it dies before claiming it, recovery ends the run. */
    readonly reservedBy?: { readonly leaseOwner: string; readonly leaseExpiresAt: string };
    /** Appended after `run.queued`, given the new run's id. */
    readonly extraEvents?: (runId: string) => readonly TypedEvent[];
  } = {},
): Submission {
  const job = { ...submitted, repo: canonicalRepoPath(submitted.repo) };
  const at = new Date(now.nowMs).toISOString();
  const sessionId = newId(IdPrefix.session, now.nowMs);
  const runId = newId(IdPrefix.run, now.nowMs);
  const actor = now.actor ?? requestedBy;
  const events = [
    sessionEvent('session.created', {
      task: job.task,
      repo: job.repo,
      agent: job.agent,
      requestedBy,
      labels: job.labels,
    }),
    sessionEvent('run.queued', { runId, jobSpec: job }),
    ...(options.extraEvents?.(runId) ?? []),
  ].map((event) => ({ type: event.type, data: event.data, at, actor }));
  return {
    sessionId,
    runId,
    create: {
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
        maxClaims: options.reservedBy ? 1 : 1 + job.interruptRetries,
        requirements: runRequirements(job),
        ...(options.reservedBy ? { reservedBy: options.reservedBy } : {}),
      },
      events,
    },
  };
}
