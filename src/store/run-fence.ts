import type { Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema } from './database-schema.js';
import { recordLeaseWrite } from './lease-write.js';
import type { RunFence } from './records.js';
import type { ReservedHead } from './session-head.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';

/** What a fencing refusal reports about the run as it is now. */
export interface FencedRunState {
  readonly sessionId: string;
  readonly leaseOwner: string | null;
  readonly status: string;
  readonly fencingToken: number;
}

/** Whether `fence` holds the lease of a run in this state: same owner, and same token if given. */
export function fenceHolds(fence: RunFence, current: FencedRunState | undefined): boolean {
  return (
    current !== undefined &&
    current.leaseOwner === fence.leaseOwner &&
    (fence.fencingToken === undefined || current.fencingToken === fence.fencingToken)
  );
}

/** Why a fenced write was refused; nothing was written. */
export function leaseFenced(
  fence: RunFence,
  current: FencedRunState | undefined,
  writeSessionId?: string,
): AasError {
  const withToken = fence.fencingToken !== undefined;
  const held = withToken ? ` under fencing token ${fence.fencingToken}` : '';
  const nowToken = withToken && current !== undefined ? `, token ${current.fencingToken}` : '';
  const now = `now: ${current?.leaseOwner ?? 'none'}${nowToken}, status ${current?.status ?? 'missing'}`;
  // A fence from another session is refused even while its lease is held: this write holds
  // only its own session's lock, so that other run's lease could change under it.
  const elsewhere =
    current !== undefined && writeSessionId !== undefined && current.sessionId !== writeSessionId
      ? `; it belongs to session ${current.sessionId}, not ${writeSessionId}`
      : '';
  return new AasError(
    'LEASE_FENCED',
    `run ${fence.runId} is no longer leased to ${fence.leaseOwner}${held} (${now}${elsewhere})`,
    {
      runId: fence.runId,
      expectedLeaseOwner: fence.leaseOwner,
      actualLeaseOwner: current?.leaseOwner ?? null,
      actualStatus: current?.status ?? null,
      ...(withToken
        ? {
            expectedFencingToken: fence.fencingToken,
            actualFencingToken: current?.fencingToken ?? null,
          }
        : {}),
      ...(elsewhere === '' ? {} : { runSessionId: current?.sessionId, writeSessionId }),
    },
  );
}

/** The run's lease holder, token, status and session, as this transaction sees them now. */
export function* readFencedRun(
  db: Kysely<DatabaseSchema>,
  runId: string,
): SqlOperation<FencedRunState | undefined> {
  const [row] = yield* rowsOf(
    cachedStatement(db, 'readFencedRun', { runId }, (p) =>
      db
        .selectFrom('runs')
        .select(['session_id', 'lease_owner', 'status', 'fencing_token'])
        .where('id', '=', p.runId),
    ),
  );
  if (row === undefined) return undefined;
  return {
    sessionId: row.session_id,
    leaseOwner: row.lease_owner,
    status: row.status,
    fencingToken: row.fencing_token,
  };
}

/**
 * Throws LEASE_FENCED unless `fence.leaseOwner` holds the lease of `fence.runId` (under
 * `fence.fencingToken`, when given), a run of the locked session. Must run after
 * `lockSessionHead`: recovery and claims change a lease through the same session lock, so
 * between this check and the commit no one can take the lease away, and a throw rolls back the
 * seqs the lock reserved. A numbered fence (`writeSeq`) also records its write, once.
 */
export function* checkRunFence(
  db: Kysely<DatabaseSchema>,
  head: ReservedHead,
  fence: RunFence,
): SqlOperation<void> {
  // A numbered write is recorded first: its repeat is told apart from a lost lease even after
  // the first one ended the run, and a refused fence rolls the record back with the rest.
  if (fence.writeSeq !== undefined) {
    yield* recordLeaseWrite(db, {
      runId: fence.runId,
      leaseOwner: fence.leaseOwner,
      fencingToken: fence.fencingToken,
      writeSeq: fence.writeSeq,
    });
  }
  const current = yield* readFencedRun(db, fence.runId);
  if (
    current === undefined ||
    current.sessionId !== head.sessionId ||
    !fenceHolds(fence, current)
  ) {
    throw leaseFenced(fence, current, head.sessionId);
  }
}
