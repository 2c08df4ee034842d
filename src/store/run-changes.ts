import type { Updateable } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { RunsTable } from './database-schema.js';
import type { NewEvent, RunChanges, RunStatus } from './records.js';

/** The columns a RunChanges sets: absent fields stay unchanged, `null` clears. */
export function runChangesToRow(changes: RunChanges): Updateable<RunsTable> {
  const row: Updateable<RunsTable> = {};
  if (changes.status !== undefined) row.status = changes.status;
  if (changes.reasonCode !== undefined) row.reason_code = changes.reasonCode;
  if (changes.reasonDetail !== undefined) row.reason_detail = changes.reasonDetail;
  if (changes.baseRef !== undefined) row.base_ref = changes.baseRef;
  if (changes.baseCommit !== undefined) row.base_commit = changes.baseCommit;
  if (changes.patchSha256 !== undefined) row.patch_sha256 = changes.patchSha256;
  if (changes.summary !== undefined) {
    row.summary = changes.summary === null ? null : (JSON.stringify(changes.summary) ?? null);
  }
  if (changes.startedAt !== undefined) row.started_at = changes.startedAt;
  if (changes.finishedAt !== undefined) row.finished_at = changes.finishedAt;
  if (changes.leaseOwner !== undefined) row.lease_owner = changes.leaseOwner;
  if (changes.leaseExpiresAt !== undefined) row.lease_expires_at = changes.leaseExpiresAt;
  if (changes.notBefore !== undefined) row.not_before = changes.notBefore;
  if (changes.cancelRequestedAt !== undefined) row.cancel_requested_at = changes.cancelRequestedAt;
  if (changes.cancelRequestedBy !== undefined) row.cancel_requested_by = changes.cancelRequestedBy;
  if (changes.claimCount !== undefined) row.claim_count = changes.claimCount;
  if (changes.unacknowledgedClaims !== undefined) {
    row.unacknowledged_claims = changes.unacknowledgedClaims;
  }
  return row;
}

/**
 * A run's `updated_at` after an update: the last event's `at`, else the update's `finishedAt`,
 * else its `startedAt`; undefined (keep the old value) when none is given, and a timestamp being
 * cleared (`null`) does not count.
 */
export function runUpdatedAt(changes: RunChanges, events: readonly NewEvent[]): string | undefined {
  return events.at(-1)?.at ?? changes.finishedAt ?? changes.startedAt ?? undefined;
}

/** Why an expectation-guarded updateRun was refused; nothing was written. */
export function runConflict(
  runId: string,
  current: { status: string; version: number } | undefined,
  expected: { status?: readonly RunStatus[]; version?: number },
): AasError {
  const wanted = [
    expected.status === undefined ? '' : `status in [${expected.status.join(', ')}]`,
    expected.version === undefined ? '' : `version ${expected.version}`,
  ]
    .filter(Boolean)
    .join(' and ');
  return new AasError(
    'CONFLICT',
    `run ${runId} is ${current?.status ?? '?'} at version ${current?.version ?? '?'}; expected ${wanted}`,
    {
      runId,
      actualStatus: current?.status,
      actualVersion: current?.version,
      expectedStatus: expected.status,
      expectedVersion: expected.version,
    },
  );
}
