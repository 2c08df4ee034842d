import type { Kysely } from 'kysely';

/**
 * Schedules and their fires. A fire row's primary key (schedule, trigger, slot) is what keeps a
 * slot from firing twice, whichever replica gets there first; `version` on the schedule is what
 * lets only one of them advance it. Portable types only; forward-only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('schedules')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('at', 'text')
    .addColumn('every_sec', 'integer')
    .addColumn('cron', 'text')
    .addColumn('timezone', 'text')
    .addColumn('misfire', 'text', (col) => col.notNull())
    .addColumn('paused_at', 'text')
    .addColumn('job_spec', 'text', (col) => col.notNull())
    .addColumn('next_fire_at', 'text')
    .addColumn('created_by', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_by', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .execute();
  // Every tick of every replica asks for the due schedules: one range of this index.
  await db.schema
    .createIndex('schedules_next_fire_at')
    .on('schedules')
    .columns(['next_fire_at', 'id'])
    .execute();

  await db.schema
    .createTable('schedule_fires')
    .addColumn('schedule_id', 'text', (col) => col.notNull().references('schedules.id'))
    .addColumn('trigger', 'text', (col) => col.notNull())
    .addColumn('slot_at', 'text', (col) => col.notNull())
    .addColumn('outcome', 'text', (col) => col.notNull())
    .addColumn('missed_slots', 'integer', (col) => col.notNull())
    .addColumn('session_id', 'text')
    .addColumn('run_id', 'text')
    .addColumn('recorded_at', 'text', (col) => col.notNull())
    .addColumn('recorded_by', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('schedule_fires_pk', ['schedule_id', 'trigger', 'slot_at'])
    .execute();
  // A schedule's latest fires, newest first.
  await db.schema
    .createIndex('schedule_fires_recorded_at')
    .on('schedule_fires')
    .columns(['schedule_id', 'recorded_at'])
    .execute();
}
