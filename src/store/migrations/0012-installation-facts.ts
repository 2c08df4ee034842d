import type { Kysely } from 'kysely';

/**
 * Facts every process of one installation must agree on, written once by the first that states
 * them: the signing key's id, so that a replica started with another AAS_HOME (hence another
 * key) is refused instead of signing and serving attestations nobody else can verify.
 * Forward-only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('installation_facts')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('value', 'text', (col) => col.notNull())
    .addColumn('recorded_at', 'text', (col) => col.notNull())
    .execute();
}
