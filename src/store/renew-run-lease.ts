import { type Kysely, sql } from 'kysely';
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
        .set((eb) => ({
          lease_expires_at: p.leaseExpiresAt,
          version: eb('version', '+', 1),
          // The holder has its claim: the sweep may spend it (migration 0010).
          renewed_fencing_token: eb.ref('fencing_token'),
        }))
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

/** One renewal of a batch (see renewRunLeases). */
export interface LeaseRenewalRequest {
  readonly fence: RunFence;
  readonly leaseExpiresAt: string;
}

/**
 * PostgreSQL: the renewals of several runs in one fenced UPDATE. Each run is renewed exactly as
 * renewRunLease renews it, under its own fence. Rows are locked without waiting (`SKIP LOCKED`):
 * a statement holding several run locks must not wait for one held by a writer that may wait
 * for another of them. The answer for a run this did not renew (its fence does not hold, or
 * another writer holds the row) is undefined; the caller asks renewRunLease, which waits while
 * holding nothing else and also reads why. `requests` name distinct runs.
 *
 * The statement commits without waiting for the WAL flush (`synchronous_commit` off for its own
 * transaction only, through `set_config(…, true)`; so it must run as its own autocommitted
 * statement, never inside a longer transaction). A renewal is the one write a running run
 * repeats, and losing it is harmless: PostgreSQL flushes WAL in order, so a crash can undo only
 * the renewals of the last moments (the WAL writer flushes within 3 × `wal_writer_delay`) that
 * no later durable commit followed. A lease then ends that much earlier than its holder was
 * told; the sweep may requeue the run, and its holder's report is refused by the fencing token,
 * exactly as when a worker loses touch. A cancel a renewal reported was itself committed
 * durably. Every other write of the store waits for the flush. What this saves is measured in
 * bench/README.md (`fleet`).
 */
export function* renewRunLeases(
  db: Kysely<DatabaseSchema>,
  requests: readonly LeaseRenewalRequest[],
): SqlOperation<(LeaseRenewal | undefined)[]> {
  const values = {
    runIds: requests.map((request) => request.fence.runId),
    owners: requests.map((request) => request.fence.leaseOwner),
    tokens: requests.map((request) => request.fence.fencingToken ?? null),
    leaseExpiries: requests.map((request) => request.leaseExpiresAt),
  };
  const renewed = yield* rowsOf(
    cachedStatement(db, 'renewRunLeases', values, (p) => {
      const write = sql<{ id: string; cancel_requested_at: string | null }>`with renewal as (
          select * from unnest(
            cast(${p.runIds} as text[]), cast(${p.owners} as text[]),
            cast(${p.tokens} as integer[]), cast(${p.leaseExpiries} as text[])
          ) as r(run_id, lease_owner, fencing_token, lease_expires_at)
        ), relaxed as materialized (
          select set_config('synchronous_commit', 'off', true)
        ), held as (
          select runs.id, renewal.lease_expires_at
          from runs join renewal on runs.id = renewal.run_id
          where runs.lease_owner = renewal.lease_owner
            and (renewal.fencing_token is null or runs.fencing_token = renewal.fencing_token)
            and exists (select from relaxed)
          for no key update of runs skip locked
        )
        update runs set lease_expires_at = held.lease_expires_at, version = runs.version + 1,
          renewed_fencing_token = runs.fencing_token
        from held where runs.id = held.id
        returning runs.id, runs.cancel_requested_at`;
      return { compile: () => write.compile(db) };
    }),
  );
  const byRun = new Map(renewed.map((row) => [row.id, row.cancel_requested_at !== null]));
  return requests.map((request) => {
    const cancelRequested = byRun.get(request.fence.runId);
    return cancelRequested === undefined ? undefined : { held: true, cancelRequested };
  });
}
