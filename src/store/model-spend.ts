import { type Kysely, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema, ModelSpendRow } from './database-schema.js';
import type { ModelSpend, ModelSpendScope, StoredEvent } from './records.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';

/** The event type the runner records for every model call through the gateway. */
export const MODEL_USAGE_EVENT = 'agent.usage';

/**
 * Refusals the gateway answers without forwarding anything: they spent nothing. Every other
 * call counts, an `upstream_error` included (a stream cut off mid-answer is still charged), and
 * so does a refusal this list does not know yet: an unknown kind errs towards counting spend.
 */
const UNFORWARDED_REFUSALS: ReadonlySet<string> = new Set([
  'budget',
  'auth',
  'unknown_route',
  'no_price',
  'no_upstream',
  'bad_request',
]);

/** The spend of one `agent.usage` event, as the model_spend row needs it (repo aside). */
interface CallSpend {
  readonly runId: string;
  readonly provider: string;
  readonly model: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly costUsd: number;
  /** False for a call the gateway refused without forwarding: no row is recorded. */
  readonly charged: boolean;
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The spend an `agent.usage` payload describes, or null when the payload is not one. */
function callSpendOf(data: unknown): CallSpend | null {
  if (typeof data !== 'object' || data === null) return null;
  const usage = data as Record<string, unknown>;
  const { runId, provider, model, inputTokens, outputTokens, cachedInputTokens, costUsd } = usage;
  const refused = usage.refused ?? null;
  if (
    typeof runId !== 'string' ||
    typeof provider !== 'string' ||
    !(model === null || model === undefined || typeof model === 'string') ||
    !isCount(inputTokens) ||
    !isCount(outputTokens) ||
    !isCount(cachedInputTokens) ||
    typeof costUsd !== 'number' ||
    !Number.isFinite(costUsd) ||
    costUsd < 0 ||
    !(refused === null || typeof refused === 'string')
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
    charged: refused === null || !UNFORWARDED_REFUSALS.has(refused),
  };
}

/**
 * Records a model_spend row for every charged `agent.usage` event among `events`, all of one
 * session, inside the transaction that appends them. A usage event the store cannot account for
 * (a malformed payload, or a run that is not this session's) is INVALID_ARGUMENT, and the whole
 * append is rolled back: spend that is not counted is budget that is not enforced.
 */
export function* recordModelSpend(
  db: Kysely<DatabaseSchema>,
  sessionId: string,
  events: readonly StoredEvent[],
): SqlOperation<void> {
  const calls: { event: StoredEvent; spend: CallSpend }[] = [];
  for (const event of events) {
    if (event.type !== MODEL_USAGE_EVENT) continue;
    const spend = callSpendOf(event.data);
    if (spend === null) {
      throw new AasError(
        'INVALID_ARGUMENT',
        `the ${MODEL_USAGE_EVENT} event at seq ${event.seq} does not describe a model call (runId, provider, token counts and costUsd ≥ 0 are required)`,
        { field: 'events', sessionId, seq: event.seq },
      );
    }
    if (spend.charged) calls.push({ event, spend });
  }
  if (calls.length === 0) return;
  const runIds = [...new Set(calls.map((call) => call.spend.runId))];
  const runs = yield* rowsOf(
    db
      .selectFrom('runs')
      .select(['id', 'repo'])
      .where('session_id', '=', sessionId)
      .where('id', 'in', runIds)
      .compile(),
  );
  const repoOf = new Map(runs.map((run) => [run.id, run.repo]));
  const rows: ModelSpendRow[] = calls.map(({ event, spend }) => {
    const repo = repoOf.get(spend.runId);
    if (repo === undefined) {
      throw new AasError(
        'INVALID_ARGUMENT',
        `the ${MODEL_USAGE_EVENT} event at seq ${event.seq} names run ${spend.runId}, which is not a run of session ${sessionId}`,
        { field: 'events', sessionId, runId: spend.runId },
      );
    }
    return spendRow(sessionId, event.seq, event.at, repo, spend);
  });
  // 11 columns a row: 256 rows stay far below either dialect's limit on bind parameters.
  for (let start = 0; start < rows.length; start += MAX_SPEND_ROWS_PER_INSERT) {
    const chunk = rows.slice(start, start + MAX_SPEND_ROWS_PER_INSERT);
    yield* rowsOf(db.insertInto('model_spend').values(chunk).compile());
  }
}

const MAX_SPEND_ROWS_PER_INSERT = 256;

function spendRow(
  sessionId: string,
  seq: number,
  at: string,
  repo: string,
  spend: CallSpend,
): ModelSpendRow {
  return {
    session_id: sessionId,
    seq,
    run_id: spend.runId,
    repo,
    at,
    provider: spend.provider,
    model: spend.model,
    input_tokens: spend.inputTokens,
    output_tokens: spend.outputTokens,
    cached_input_tokens: spend.cachedInputTokens,
    cost_usd: spend.costUsd,
  };
}

/** The sums over one scope: by run_id, by the primary key's session_id, or by (repo, at). */
export function modelSpendQuery(db: Kysely<DatabaseSchema>, scope: ModelSpendScope) {
  const zero = sql.lit(0);
  const sums = db
    .selectFrom('model_spend')
    .select((eb) => [
      eb.fn.countAll().as('calls'),
      eb.fn.coalesce(eb.fn.sum('input_tokens'), zero).as('input_tokens'),
      eb.fn.coalesce(eb.fn.sum('output_tokens'), zero).as('output_tokens'),
      eb.fn.coalesce(eb.fn.sum('cached_input_tokens'), zero).as('cached_input_tokens'),
      eb.fn.coalesce(eb.fn.sum('cost_usd'), zero).as('cost_usd'),
    ]);
  if ('runId' in scope) return sums.where('run_id', '=', scope.runId).compile();
  if ('sessionId' in scope) return sums.where('session_id', '=', scope.sessionId).compile();
  return sums
    .where('repo', '=', scope.repo)
    .where('at', '>=', scope.fromIso)
    .where('at', '<', scope.toIso)
    .compile();
}

/** PostgreSQL returns count(*) and sums of integers as bigint or numeric text. */
export function modelSpendFromRow(row: Record<string, unknown> | undefined): ModelSpend {
  const number = (value: unknown) => (value === undefined || value === null ? 0 : Number(value));
  return {
    calls: number(row?.calls),
    inputTokens: number(row?.input_tokens),
    outputTokens: number(row?.output_tokens),
    cachedInputTokens: number(row?.cached_input_tokens),
    costUsd: number(row?.cost_usd),
  };
}
