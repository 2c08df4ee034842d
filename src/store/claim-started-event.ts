import type { NewEvent, RunRecord } from './records.js';

/** What a claim records about itself, besides the run as it leaves it. */
export interface ClaimStart {
  readonly owner: string;
  readonly nowIso: string;
  readonly leaseExpiresAt: string;
}

/**
 * The `run.started` event a claim records unless its caller gives events of its own: who holds
 * the run, until when, under which fencing token, and which claim of how many this is. The
 * batched PostgreSQL claim (postgres-claim-batch.ts) writes the same event from SQL, so its
 * shape is fixed here, once, and a test holds the two to the same bytes.
 */
export function claimStartedEvent(run: RunRecord, start: ClaimStart): NewEvent {
  return {
    type: 'run.started',
    at: start.nowIso,
    actor: start.owner,
    data: {
      runId: run.id,
      owner: start.owner,
      leaseExpiresAt: start.leaseExpiresAt,
      fencingToken: run.fencingToken,
      claim: run.claimCount,
      maxClaims: run.maxClaims,
    },
  };
}
