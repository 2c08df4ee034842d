import { type Kysely, sql } from 'kysely';

/**
 * Who last set a schedule's job template: the requester of every run it fires. Until now that
 * was the schedule's creator whoever had written the job, so another submitter could put a job
 * of their own into someone else's schedule, have it run in the creator's name, and then approve
 * its patch: the self-approval rule looks at the requester, and they were not it. Existing
 * schedules keep their creator, who is all the history knows. Forward-only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('schedules')
    .addColumn('job_set_by', 'text', (col) => col.notNull().defaultTo(''))
    .execute();
  await sql`update schedules set job_set_by = created_by`.execute(db);
}
