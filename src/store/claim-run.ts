import { type Kysely, type SqlBool, sql } from 'kysely';
import { AasError } from '../kernel/index.js';
import {
  type ClaimedRun,
  type ClaimRunInput,
  candidates,
  claimEventsOf,
  type NotAmong,
  runningOfCandidateRepo,
} from './claim-candidates.js';
import type { DatabaseSchema, RunRow } from './database-schema.js';
import { claimOnPostgres } from './postgres-claim.js';
import { RunStatus } from './records.js';
import { runFromRow } from './row-mappers.js';
import { appendToLockedHead, lockSessionHead } from './session-head.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';
import { cachedStatement } from './statement-cache.js';
import type { Dialect } from './store.js';

export type { ClaimedRun, ClaimRunInput } from './claim-candidates.js';

/**
 * Claims the best claimable run (see Store.claimRun) in the caller's write transaction and
 * appends its events under the session head.
 *
 * SQLite: the executor holds the database write lock (BEGIN IMMEDIATE) for the whole operation,
 * so nothing can change between choosing and claiming. The claim is one statement,
 * `UPDATE runs … WHERE id = (SELECT best candidate [whose repo runs < limit]) RETURNING *`,
 * then the events are appended under the session head like any other write's.
 *
 * PostgreSQL: see postgres-claim.ts.
 */
export function* claimRun(
  db: Kysely<DatabaseSchema>,
  dialect: Dialect,
  input: ClaimRunInput,
): SqlOperation<ClaimedRun | null> {
  if (dialect === 'postgres') return yield* claimOnPostgres(db, input);
  const claimed = yield* claimOnSqlite(db, input);
  return claimed === undefined ? null : yield* recordClaim(db, claimed, input);
}

/** SQLite, under the database write lock: choose and claim in one statement. */
function* claimOnSqlite(
  db: Kysely<DatabaseSchema>,
  input: ClaimRunInput,
): SqlOperation<RunRow | undefined> {
  const offers = input.match?.offers ?? [];
  const values: Record<string, unknown> = {
    owner: input.owner,
    nowIso: input.nowIso,
    leaseExpiresAt: input.leaseExpiresAt,
    ...(input.runId === undefined ? {} : { runId: input.runId }),
    ...(input.maxRunningPerRepo === undefined ? {} : { limit: input.maxRunningPerRepo }),
    ...Object.fromEntries(offers.map((offer, index) => [`offer${index}`, offer])),
  };
  // Everything that changes the SQL text: a worker's offers are a fixed list, so it reuses one.
  const matchShape =
    input.match === undefined ? 'none' : `${input.match.anyAgent}:${offers.length}`;
  const shape = `claimRun:${input.runId !== undefined}:${input.maxRunningPerRepo !== undefined}:${matchShape}`;
  const [row] = yield* rowsOf(
    cachedStatement(db, shape, values, (p) => {
      const placeholders: ClaimRunInput = {
        // Placeholders stand in for the values, whatever their type: they are bound later.
        owner: p.owner as string,
        nowIso: p.nowIso as string,
        leaseExpiresAt: p.leaseExpiresAt as string,
        ...(p.runId === undefined ? {} : { runId: p.runId as string }),
        ...(input.match === undefined ? {} : { match: input.match }),
      };
      const offerPlaceholders = offers.map((_, index) => p[`offer${index}`] as string);
      const unoffered: NotAmong | undefined =
        offerPlaceholders.length === 0
          ? undefined
          : (column) => sql<SqlBool>`${sql.ref(column)} not in (${sql.join(offerPlaceholders)})`;
      const best = candidates(db, placeholders, unoffered === undefined ? {} : { unoffered })
        .select('candidate.id')
        .$if(p.limit !== undefined, (qb) =>
          qb.where(runningOfCandidateRepo(), '<', (p.limit ?? 0) as number),
        );
      return db
        .updateTable('runs')
        .set((eb) => ({
          status: RunStatus.running,
          lease_owner: placeholders.owner,
          lease_expires_at: placeholders.leaseExpiresAt,
          started_at: placeholders.nowIso,
          updated_at: placeholders.nowIso,
          not_before: null,
          fencing_token: eb('fencing_token', '+', 1),
          claim_count: eb('claim_count', '+', 1),
          version: eb('version', '+', 1),
        }))
        .where('id', '=', best)
        .returningAll();
    }),
  );
  return row;
}

/** SQLite: appends the claim's events under the session head and mirrors the status on it. */
function* recordClaim(
  db: Kysely<DatabaseSchema>,
  claimedRow: RunRow,
  input: ClaimRunInput,
): SqlOperation<ClaimedRun> {
  const events = claimEventsOf(input, runFromRow(claimedRow));
  let row = claimedRow;
  // A run's updated_at is the `at` of the last event of the change that dated it.
  const lastAt = events.at(-1)?.at;
  if (lastAt !== undefined && lastAt !== row.updated_at) {
    const [dated] = yield* rowsOf(
      db
        .updateTable('runs')
        .set({ updated_at: lastAt })
        .where('id', '=', row.id)
        .returningAll()
        .compile(),
    );
    row = dated ?? row;
  }
  const head = yield* lockSessionHead(db, { sessionId: row.session_id }, events);
  // runs.session_id references sessions: only a database edited by hand gets here.
  if (head === null)
    throw new AasError('INTERNAL', `run ${row.id} has no session ${row.session_id}`);
  const mirror = { status: row.status, reason_code: row.reason_code };
  const stored = yield* appendToLockedHead(db, head, events, mirror);
  return { run: runFromRow(row), events: stored };
}
