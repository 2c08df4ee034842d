import type { CompiledQuery, Kysely, Updateable } from 'kysely';
import type { DatabaseSchema, RunRow, RunsTable } from './database-schema.js';
import type { RunChanges, RunStatus } from './records.js';
import { runChangesToRow } from './run-changes.js';
import { cachedStatement } from './statement-cache.js';

/** What updateRun may expect of the run before it writes. */
export interface RunExpectation {
  readonly status?: readonly RunStatus[];
  readonly version?: number;
  readonly leaseOwner?: string;
  readonly fencingToken?: number;
}

/**
 * `UPDATE runs SET <changes>, version = version + 1 WHERE id = … AND <expectations> RETURNING *`.
 * The expectations sit in the UPDATE itself, so the check and the write are one step. Callers
 * handle an empty `expect.status` (no run can match) without running a statement.
 */
export function runUpdateStatement(
  db: Kysely<DatabaseSchema>,
  runId: string,
  changes: RunChanges,
  updatedAt: string | undefined,
  expect: RunExpectation,
): CompiledQuery<RunRow> {
  const columns: Record<string, unknown> = runChangesToRow(changes);
  const names = Object.keys(columns).sort();
  const statusCount = expect.status?.length;
  const values: Record<string, unknown> = { id: runId };
  for (const name of names) values[`set_${name}`] = columns[name];
  if (updatedAt !== undefined) values.updatedAt = updatedAt;
  expect.status?.forEach((status, index) => {
    values[`status${index}`] = status;
  });
  if (expect.version !== undefined) values.version = expect.version;
  if (expect.leaseOwner !== undefined) values.leaseOwner = expect.leaseOwner;
  if (expect.fencingToken !== undefined) values.fencingToken = expect.fencingToken;
  const shape = [
    'updateRun',
    names.join(','),
    updatedAt !== undefined,
    statusCount ?? '-',
    expect.version !== undefined,
    expect.leaseOwner !== undefined,
    expect.fencingToken !== undefined,
  ].join(':');
  return cachedStatement(db, shape, values, (p) => {
    const set = Object.fromEntries(names.map((name) => [name, p[`set_${name}`]]));
    let update = db
      .updateTable('runs')
      .set((eb) => ({
        ...(set as Updateable<RunsTable>),
        ...(p.updatedAt === undefined ? {} : { updated_at: p.updatedAt as string }),
        version: eb('version', '+', 1),
      }))
      .where('id', '=', p.id as string);
    if (statusCount !== undefined) {
      const statuses = Array.from({ length: statusCount }, (_, i) => p[`status${i}`] as string);
      update = update.where('status', 'in', statuses);
    }
    if (p.version !== undefined) update = update.where('version', '=', p.version as number);
    // The lease condition sits in the same UPDATE, after the session lock: recovery ends runs
    // through that lock too, so a holder it fenced off cannot slip a write in.
    if (p.leaseOwner !== undefined) {
      update = update.where('lease_owner', '=', p.leaseOwner as string);
    }
    if (p.fencingToken !== undefined) {
      update = update.where('fencing_token', '=', p.fencingToken as number);
    }
    return update.returningAll();
  });
}
