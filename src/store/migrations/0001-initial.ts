import type { Kysely } from 'kysely';

/**
 * The initial schema. Only portable types (`text`, `integer`) so one migration serves SQLite
 * and PostgreSQL; JSON and timestamps are text (see database-schema.ts). Forward-only: there
 * is no `down`, a later change is a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addColumn('task', 'text', (col) => col.notNull())
    .addColumn('repo', 'text', (col) => col.notNull())
    .addColumn('agent', 'text', (col) => col.notNull())
    .addColumn('requested_by', 'text', (col) => col.notNull())
    .addColumn('labels', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('reason_code', 'text')
    .addColumn('last_seq', 'integer', (col) => col.notNull())
    .addColumn('last_hash', 'text', (col) => col.notNull())
    .execute();
  // listSessions({ status }) pages newest-first by id within one status.
  await db.schema
    .createIndex('sessions_status_id')
    .on('sessions')
    .columns(['status', 'id'])
    .execute();

  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('session_id', 'text', (col) => col.notNull().references('sessions.id'))
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('reason_code', 'text')
    .addColumn('reason_detail', 'text')
    .addColumn('job_spec', 'text', (col) => col.notNull())
    .addColumn('base_ref', 'text')
    .addColumn('base_commit', 'text')
    .addColumn('patch_sha256', 'text')
    .addColumn('summary', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('version', 'integer', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('runs_session_id_created_at')
    .on('runs')
    .columns(['session_id', 'created_at'])
    .execute();
  // listRunsWithExpiredLease: status = 'running' AND lease_expires_at < now, oldest first.
  await db.schema
    .createIndex('runs_status_lease_expires_at')
    .on('runs')
    .columns(['status', 'lease_expires_at'])
    .execute();

  await db.schema
    .createTable('attempts')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id'))
    .addColumn('number', 'integer', (col) => col.notNull())
    .addColumn('agent_id', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('reason_code', 'text')
    .addColumn('started_at', 'text', (col) => col.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('detail', 'text')
    // Also the index behind listAttempts(runId), which orders by number.
    .addUniqueConstraint('attempts_run_id_number', ['run_id', 'number'])
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('session_id', 'text', (col) => col.notNull().references('sessions.id'))
    .addColumn('seq', 'integer', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('actor', 'text', (col) => col.notNull())
    .addColumn('data', 'text', (col) => col.notNull())
    .addColumn('prev_hash', 'text', (col) => col.notNull())
    .addColumn('hash', 'text', (col) => col.notNull())
    // The primary key is the (session, seq) uniqueness that makes seq gap-free and unforkable,
    // and the index readEvents scans.
    .addPrimaryKeyConstraint('events_pk', ['session_id', 'seq'])
    .execute();
}
