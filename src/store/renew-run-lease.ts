import type { Kysely } from 'kysely';
import type { DatabaseSchema } from './database-schema.js';
import type { LeaseRenewal, RunFence } from './records.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';
import { notFound } from './store-errors.js';

/**
 * Extends the lease while `fence` holds it (owner, and token when given). The version bump
 * fences recoverers: one that read the run before this renewal and then updates it with
 * `expect.version` gets CONFLICT instead of failing a live run. `cancelRequested` is read from
 * the same row whether or not the lease is still held.
 */
export function* renewRunLease(
  db: Kysely<DatabaseSchema>,
  fence: RunFence,
  leaseExpiresAt: string,
): SqlOperation<LeaseRenewal> {
  const values = {
    runId: fence.runId,
    leaseOwner: fence.leaseOwner,
    leaseExpiresAt,
    ...(fence.fencingToken === undefined ? {} : { fencingToken: fence.fencingToken }),
  };
  const [renewed] = yield* rowsOf(
    cachedStatement(db, `renewRunLease:${fence.fencingToken !== undefined}`, values, (p) =>
      db
        .updateTable('runs')
        .set((eb) => ({ lease_expires_at: p.leaseExpiresAt, version: eb('version', '+', 1) }))
        .where('id', '=', p.runId)
        .where('lease_owner', '=', p.leaseOwner)
        .$if(p.fencingToken !== undefined, (qb) =>
          qb.where('fencing_token', '=', p.fencingToken ?? 0),
        )
        .returning('cancel_requested_at'),
    ),
  );
  if (renewed !== undefined) {
    return { held: true, cancelRequested: renewed.cancel_requested_at !== null };
  }
  const [current] = yield* rowsOf(
    db.selectFrom('runs').select('cancel_requested_at').where('id', '=', fence.runId).compile(),
  );
  if (current === undefined) throw notFound('run', fence.runId);
  return { held: false, cancelRequested: current.cancel_requested_at !== null };
}
