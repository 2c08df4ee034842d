import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * A lease renewal (heartbeat) that touches no index. Forward-only.
 *
 * 0002's `runs_leased` keyed the lease sweep's index on `lease_expires_at`, so every renewal,
 * the one write a running run makes over and over, inserted a new entry into each index of
 * `runs` (PostgreSQL updates an index only when none of its key or predicate columns changes,
 * the "heap-only tuple" update, HOT). The sweep's index now names only `lease_owner`, which a
 * renewal never changes: the sweep reads every leased run (running runs and reservations,
 * bounded by the fleet's capacity, not by the backlog) and compares deadlines on those rows.
 * Measured on the fleet benchmark before the change: 22 index entries and 5.3 KB of WAL per run.
 *
 * On PostgreSQL the table also keeps a fifth of each page free, so that the new version of a
 * renewed row fits on its own page, which HOT also needs. Pages written before this keep
 * their old packing until rewritten.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('runs_leased').execute();
  await db.schema
    .createIndex('runs_lease_owner')
    .on('runs')
    .column('lease_owner')
    .where(sql.ref('lease_owner'), 'is not', null)
    .execute();
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table runs set (fillfactor = 80)`.execute(db);
  }
}
