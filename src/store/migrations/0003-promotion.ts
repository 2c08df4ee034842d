import type { Kysely } from 'kysely';

/**
 * Promotion state: approvals bound to a run's exact patch digest, the writer leases that keep
 * one promotion at a time per (repository, target branch), and one promotion record per run
 * whose progress makes a retried promotion finish rather than start over. Portable types only;
 * forward-only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('approvals')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id'))
    .addColumn('session_id', 'text', (col) => col.notNull())
    .addColumn('attempt_number', 'integer', (col) => col.notNull())
    .addColumn('patch_sha256', 'text', (col) => col.notNull())
    .addColumn('repo', 'text', (col) => col.notNull())
    .addColumn('target_branch', 'text', (col) => col.notNull())
    .addColumn('decision', 'text', (col) => col.notNull())
    .addColumn('note', 'text')
    .addColumn('decided_by', 'text', (col) => col.notNull())
    .addColumn('token_id', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .addColumn('voided_at', 'text')
    .addColumn('void_reason', 'text')
    .execute();
  await db.schema
    .createIndex('approvals_run_id')
    .on('approvals')
    .columns(['run_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('writer_leases')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('owner', 'text', (col) => col.notNull())
    .addColumn('run_id', 'text')
    .addColumn('fencing_token', 'integer', (col) => col.notNull())
    .addColumn('acquired_at', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('promotions')
    .addColumn('run_id', 'text', (col) => col.primaryKey().references('runs.id'))
    .addColumn('session_id', 'text', (col) => col.notNull())
    .addColumn('requested_mode', 'text', (col) => col.notNull())
    .addColumn('mode', 'text')
    .addColumn('state', 'text', (col) => col.notNull())
    .addColumn('requested_by', 'text', (col) => col.notNull())
    .addColumn('target_branch', 'text', (col) => col.notNull())
    .addColumn('branch', 'text')
    .addColumn('remote', 'text')
    .addColumn('commit_sha', 'text')
    .addColumn('pr_url', 'text')
    .addColumn('attestation_sha256', 'text')
    .addColumn('started_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addColumn('detail', 'text', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .execute();
}
