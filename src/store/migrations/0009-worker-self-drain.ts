import type { Kysely } from 'kysely';

/**
 * When a remote worker last said, on a heartbeat, that it is draining itself (SIGTERM), so that
 * every replica shows it `draining`, not only the one that heard it. Display only: unlike
 * `draining` (an administrator's order, obeyed by claims), it is cleared by the worker's next
 * heartbeat that does not say so and by its next claim, and it goes stale on its own.
 * Forward-only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('remote_workers')
    .addColumn('self_drain_reported_at', 'text')
    .execute();
}
