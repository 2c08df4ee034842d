import { type Kysely, sql } from 'kysely';

/** Usage events read per page while the spend table is filled from the history. */
const BACKFILL_PAGE = 500;

/**
 * Model spend per call, projected from `agent.usage` events, so a budget check for a run, a
 * session or a repository's day sums a few indexed rows instead of reading events. Portable
 * types, like every migration, except the cost: `double precision` is PostgreSQL's float8 and
 * SQLite's REAL, the JavaScript number the events hold. Forward-only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('model_spend')
    .addColumn('session_id', 'text', (col) => col.notNull().references('sessions.id'))
    .addColumn('seq', 'integer', (col) => col.notNull())
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id'))
    .addColumn('repo', 'text', (col) => col.notNull())
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('model', 'text')
    .addColumn('input_tokens', 'integer', (col) => col.notNull())
    .addColumn('output_tokens', 'integer', (col) => col.notNull())
    .addColumn('cached_input_tokens', 'integer', (col) => col.notNull())
    .addColumn('cost_usd', 'double precision', (col) => col.notNull())
    // The event the row was projected from; the session's spend is a range of this key.
    .addPrimaryKeyConstraint('model_spend_pk', ['session_id', 'seq'])
    .execute();
  await db.schema.createIndex('model_spend_run_id').on('model_spend').column('run_id').execute();
  // A repository's spend over a day: one range of this index.
  await db.schema
    .createIndex('model_spend_repo_at')
    .on('model_spend')
    .columns(['repo', 'at'])
    .execute();
  await backfill(db);
}

/**
 * Spend recorded before this table existed, from the events themselves. A usage event that does
 * not parse, or names a run that is not its session's, was written outside the store: it is
 * skipped rather than refusing to upgrade the whole database.
 */
async function backfill(db: Kysely<unknown>): Promise<void> {
  let afterSession = '';
  let afterSeq = 0;
  for (;;) {
    const { rows } = await sql<{ session_id: string; seq: number; at: string; data: string }>`
      select session_id, seq, at, data from events
      where type = 'agent.usage' and (session_id > ${afterSession}
        or (session_id = ${afterSession} and seq > ${afterSeq}))
      order by session_id, seq limit ${BACKFILL_PAGE}
    `.execute(db);
    const last = rows.at(-1);
    if (last === undefined) return;
    const calls = rows.flatMap((row) => {
      const spend = chargedSpendOf(row.data);
      return spend === null ? [] : [{ row, spend }];
    });
    const runIds = [...new Set(calls.map((call) => call.spend.runId))];
    const runs =
      runIds.length === 0
        ? []
        : (
            await sql<{ id: string; session_id: string; repo: string }>`
              select id, session_id, repo from runs
              where id in (${sql.join(runIds)})
            `.execute(db)
          ).rows;
    const runOf = new Map(runs.map((run) => [run.id, run]));
    const values = calls.flatMap(({ row, spend }) => {
      const run = runOf.get(spend.runId);
      if (run === undefined || run.session_id !== row.session_id) return [];
      return [
        sql`(${row.session_id}, ${Number(row.seq)}, ${spend.runId}, ${run.repo}, ${row.at},
          ${spend.provider}, ${spend.model}, ${spend.inputTokens}, ${spend.outputTokens},
          ${spend.cachedInputTokens}, ${spend.costUsd})`,
      ];
    });
    if (values.length > 0) {
      await sql`
        insert into model_spend (session_id, seq, run_id, repo, at, provider, model,
          input_tokens, output_tokens, cached_input_tokens, cost_usd)
        values ${sql.join(values)}
      `.execute(db);
    }
    afterSession = last.session_id;
    afterSeq = Number(last.seq);
  }
}

interface Spend {
  readonly runId: string;
  readonly provider: string;
  readonly model: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly costUsd: number;
}

/**
 * The spend of a stored `agent.usage` payload, or null when it spent nothing or does not parse.
 * A frozen copy of the store's rule at the time of writing (src/store/model-spend.ts): a
 * migration must do forever what it did when it was first applied.
 */
function chargedSpendOf(text: string): Spend | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const usage = data as Record<string, unknown>;
  const { runId, provider, model, inputTokens, outputTokens, cachedInputTokens, costUsd } = usage;
  const count = (value: unknown): value is number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  const refused = usage.refused ?? null;
  const unforwarded = ['budget', 'auth', 'unknown_route', 'no_price', 'no_upstream', 'bad_request'];
  if (
    typeof runId !== 'string' ||
    typeof provider !== 'string' ||
    !(model === null || model === undefined || typeof model === 'string') ||
    !count(inputTokens) ||
    !count(outputTokens) ||
    !count(cachedInputTokens) ||
    typeof costUsd !== 'number' ||
    !Number.isFinite(costUsd) ||
    costUsd < 0 ||
    (typeof refused === 'string' && unforwarded.includes(refused))
  ) {
    return null;
  }
  return {
    runId,
    provider,
    model: model ?? null,
    inputTokens,
    outputTokens,
    cachedInputTokens,
    costUsd,
  };
}
