import { type Kysely, sql } from 'kysely';

/**
 * Whether the holder of a run's current claim ever acknowledged it. A claim's answer can be lost
 * after the server sent it (a proxy timing the long poll out, a reset connection): the run then
 * sits leased to a worker that never heard of it until the lease expires, and the sweep used to
 * spend the claim, so a run allowed one claim ended INTERRUPTED without having run at all.
 *
 * `renewed_fencing_token`: the fencing token of the last lease renewal (a heartbeat; every holder
 * renews once as soon as it has the claim, before any work). A run whose current token was never
 * renewed was never acknowledged. `unacknowledged_claims`: how often the sweep gave such a
 * claim back unspent, which it does only a few times, so that a run that kills its holder
 * before the first heartbeat still spends its budget in the end. Neither column is indexed, so
 * a renewal stays a heap-only update (0008). Forward-only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('renewed_fencing_token', 'integer').execute();
  await db.schema
    .alterTable('runs')
    .addColumn('unacknowledged_claims', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  // Claims held while this runs count as acknowledged: their holders may have renewed them
  // before the column existed, and spending such a claim is what the sweep did until now.
  await sql`update runs set renewed_fencing_token = fencing_token where lease_owner is not null`.execute(
    db,
  );
}
