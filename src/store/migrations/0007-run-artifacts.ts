import type { Kysely } from 'kysely';

/**
 * Artifacts every replica can read, and idempotent remote writes. Forward-only.
 *
 * `run_artifacts`: a run's patch and log tails, stored in the database rather than on the disk
 * of whichever process ran the attempt, so any control-plane replica serves and promotes them
 * and a remote worker's uploads land where all of them look. `bytea` is PostgreSQL's byte
 * string; SQLite stores the same bytes as a BLOB (a blob value keeps its storage class
 * whatever the column's declared type). Sizes are bounded by the writer (see the README's
 * "Artifacts" section): patches up to a configured maximum, logs as their last bytes.
 *
 * `lease_writes`: one row per fenced write a remote worker made under one claim, keyed by the
 * claim's fencing token and the worker's own sequence number, with the worker that made it. The row is inserted in the same
 * transaction as the write, so a request retried after a lost answer finds its row and writes
 * nothing twice.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('run_artifacts')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('sha256', 'text', (col) => col.notNull())
    .addColumn('bytes', 'integer', (col) => col.notNull())
    .addColumn('original_bytes', 'integer', (col) => col.notNull())
    .addColumn('content', 'bytea', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('run_artifacts_pk', ['run_id', 'name'])
    .execute();

  await db.schema
    .createTable('lease_writes')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id'))
    .addColumn('fencing_token', 'integer', (col) => col.notNull())
    .addColumn('write_seq', 'integer', (col) => col.notNull())
    .addColumn('lease_owner', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('lease_writes_pk', ['run_id', 'fencing_token', 'write_seq'])
    .execute();
}
