import type { Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema } from './database-schema.js';
import { RunStatus } from './records.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';

/** The details of the CONFLICT a repeated remote write fails with. */
export const DUPLICATE_WRITE = 'duplicateWrite';

/**
 * Records that the holder of `runId` under `fencingToken` made its write number `writeSeq`, in
 * the transaction of that write. A second write with the same number inserts nothing and throws
 * CONFLICT (`duplicateWrite: true`), which rolls the whole write back: a remote worker that
 * retries a request whose answer it never received cannot append the same events twice.
 */
export function* recordLeaseWrite(
  db: Kysely<DatabaseSchema>,
  write: { runId: string; leaseOwner: string; fencingToken: number | undefined; writeSeq: number },
): SqlOperation<void> {
  const { runId, leaseOwner, fencingToken, writeSeq } = write;
  if (fencingToken === undefined || !Number.isSafeInteger(writeSeq) || writeSeq < 1) {
    throw new AasError(
      'INVALID_ARGUMENT',
      'a numbered write needs the fencing token and a positive integer writeSeq',
      { field: 'writeSeq' },
    );
  }
  const inserted = yield* rowsOf(
    db
      .insertInto('lease_writes')
      .values({
        run_id: runId,
        fencing_token: fencingToken,
        write_seq: writeSeq,
        lease_owner: leaseOwner,
      })
      .onConflict((conflict) => conflict.doNothing())
      .returning('write_seq')
      .compile(),
  );
  if (inserted.length > 0) return;
  const [earlier] = yield* rowsOf(
    db
      .selectFrom('lease_writes')
      .select('lease_owner')
      .where('run_id', '=', runId)
      .where('fencing_token', '=', fencingToken)
      .where('write_seq', '=', writeSeq)
      .compile(),
  );
  // Only the holder that made the write can repeat it; anyone else falls through to the fence
  // check, which refuses them (a fencing token is one claim, and a claim has one holder).
  if (earlier?.lease_owner !== leaseOwner) return;
  throw new AasError(
    'CONFLICT',
    `write ${writeSeq} of run ${runId} under fencing token ${fencingToken} was already applied`,
    { runId, fencingToken, writeSeq, [DUPLICATE_WRITE]: true },
  );
}

/** Whether `error` is the refusal of a write that was already applied (see recordLeaseWrite). */
export function isDuplicateWrite(error: unknown): boolean {
  return (
    error instanceof AasError &&
    error.code === 'CONFLICT' &&
    error.details[DUPLICATE_WRITE] === true
  );
}

/**
 * Deletes the numbered-write records of at most `maxRuns` runs that finished before
 * `finishedBeforeIso` (and are not queued or running again); says how many records and runs.
 * Only a holder retrying a write whose answer it lost reads them, and it stops retrying once
 * its lease would have expired, long before any sensible cutoff. Bounded, so one call is one
 * short transaction whatever the backlog: call again while `runs` reaches `maxRuns`.
 */
export function* pruneLeaseWrites(
  db: Kysely<DatabaseSchema>,
  finishedBeforeIso: string,
  maxRuns: number,
): SqlOperation<{ records: number; runs: number }> {
  const finished = db
    .selectFrom('lease_writes')
    .innerJoin('runs', 'runs.id', 'lease_writes.run_id')
    .select('lease_writes.run_id')
    .distinct()
    .where('runs.status', 'not in', [RunStatus.queued, RunStatus.running])
    .where('runs.finished_at', '<', finishedBeforeIso)
    .limit(maxRuns);
  const deleted = yield* rowsOf(
    db.deleteFrom('lease_writes').where('run_id', 'in', finished).returning('run_id').compile(),
  );
  return { records: deleted.length, runs: new Set(deleted.map((row) => row.run_id)).size };
}
