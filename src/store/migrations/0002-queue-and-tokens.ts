import { type Kysely, sql } from 'kysely';

/** Sessions read per page while the label index is filled, and label rows per INSERT. */
const BACKFILL_PAGE = 500;

/**
 * The durable queue (claim order, per-repository limits, fencing tokens, retry budget and
 * backoff, cancel requests), an indexed label table for filtered session listings, and API
 * tokens. Portable types only, like 0001; forward-only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await addRunColumns(db);
  await addSessionLabels(db);
  // listSessions({ repo | agent | requestedBy }) pages newest-first by id within one value.
  for (const column of ['repo', 'agent', 'requested_by']) {
    await db.schema
      .createIndex(`sessions_${column}_id`)
      .on('sessions')
      .columns([column, 'id'])
      .execute();
  }
  await db.schema
    .createTable('tokens')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('role', 'text', (col) => col.notNull())
    .addColumn('secret_sha256', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('created_by', 'text', (col) => col.notNull())
    .addColumn('revoked_at', 'text')
    .addUniqueConstraint('tokens_name_unique', ['name'])
    .addUniqueConstraint('tokens_secret_sha256_unique', ['secret_sha256'])
    .execute();
}

async function addRunColumns(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds a single column.
  const columns: readonly [string, 'text' | 'integer', string | number | null][] = [
    ['repo', 'text', ''],
    ['priority', 'integer', 0],
    ['fencing_token', 'integer', 0],
    ['claim_count', 'integer', 0],
    ['max_claims', 'integer', 1],
    ['not_before', 'text', null],
    ['cancel_requested_at', 'text', null],
    ['cancel_requested_by', 'text', null],
  ];
  for (const [name, type, defaultValue] of columns) {
    await db.schema
      .alterTable('runs')
      .addColumn(name, type, (col) =>
        defaultValue === null ? col : col.notNull().defaultTo(defaultValue),
      )
      .execute();
  }
  await sql`update runs set repo = (select sessions.repo from sessions where sessions.id = runs.session_id)`.execute(
    db,
  );
  // Partial indexes hold only the runs a query can want, so a claim or a finish rewrites as
  // few index pages as possible (every page a commit touches is written to the WAL again).
  // Queries must name the status as a literal for SQLite to use them (claim-run.ts).
  //
  // The claim scans queued runs in claim order and stops at the first claimable one.
  await db.schema
    .createIndex('runs_queued_claim_order')
    .on('runs')
    .columns(['priority desc', 'created_at', 'id'])
    .where(sql.ref('status'), '=', 'queued')
    .execute();
  // The per-repository limit counts the running runs of one repo.
  await db.schema
    .createIndex('runs_running_repo')
    .on('runs')
    .column('repo')
    .where(sql.ref('status'), '=', 'running')
    .execute();
  // listRunsWithExpiredLease: lease_expires_at < now, oldest first. Replaces 0001's
  // (status, lease_expires_at), which every claim and finish rewrote twice (old and new status).
  await db.schema.dropIndex('runs_status_lease_expires_at').execute();
  await db.schema
    .createIndex('runs_leased')
    .on('runs')
    .columns(['lease_expires_at', 'id'])
    .where(sql.ref('lease_expires_at'), 'is not', null)
    .execute();
}

async function addSessionLabels(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('session_labels')
    .addColumn('session_id', 'text', (col) => col.notNull().references('sessions.id'))
    .addColumn('label', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('session_labels_pk', ['session_id', 'label'])
    .execute();
  // listSessions({ label }) pages newest-first by session id within one label.
  await db.schema
    .createIndex('session_labels_label_session_id')
    .on('session_labels')
    .columns(['label', 'session_id'])
    .execute();

  let after = '';
  for (;;) {
    const { rows } = await sql<{ id: string; labels: string }>`
      select id, labels from sessions where id > ${after} order by id limit ${BACKFILL_PAGE}
    `.execute(db);
    const last = rows.at(-1);
    if (last === undefined) return;
    const pairs = rows.flatMap((row) => labelsOf(row.labels).map((label) => [row.id, label]));
    for (let start = 0; start < pairs.length; start += BACKFILL_PAGE) {
      const values = pairs
        .slice(start, start + BACKFILL_PAGE)
        .map(([sessionId, label]) => sql`(${sessionId}, ${label})`);
      await sql`insert into session_labels (session_id, label) values ${sql.join(values)}`.execute(
        db,
      );
    }
    after = last.id;
  }
}

/**
 * The distinct labels of a `sessions.labels` value. A value that is not a JSON array of strings
 * was edited outside the store; reading that session reports it, so the migration indexes what
 * it can rather than refusing to upgrade the whole database.
 */
function labelsOf(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return [...new Set(parsed.filter((label): label is string => typeof label === 'string'))];
}
