import type { Kysely } from 'kysely';

/**
 * Remote workers, their one-time enrolments, and run requirements (labels, a pinned worker,
 * agents) that a claim checks against what the claiming worker offers. Portable types only;
 * forward-only. Existing runs get no requirement rows, so any worker may claim them, as before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('run_requirements')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id'))
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('requirement', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('run_requirements_pk', ['run_id', 'requirement'])
    .execute();

  await db.schema
    .createTable('remote_workers')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('labels', 'text', (col) => col.notNull())
    .addColumn('capabilities', 'text', (col) => col.notNull())
    .addColumn('credential_sha256', 'text', (col) => col.notNull().unique())
    .addColumn('enrolled_at', 'text', (col) => col.notNull())
    .addColumn('enrolled_by', 'text', (col) => col.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('last_seen_at', 'text')
    .addColumn('draining', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('worker_enrolments')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('labels', 'text', (col) => col.notNull())
    .addColumn('secret_sha256', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('created_by', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .addColumn('used_at', 'text')
    .addColumn('worker_id', 'text')
    .execute();
}
