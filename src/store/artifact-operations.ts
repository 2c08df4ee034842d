import type { Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema, RunArtifactsTable } from './database-schema.js';
import type { RunArtifactRecord, RunFence } from './records.js';
import { fenceHolds, leaseFenced, readFencedRun } from './run-fence.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';

/** `patch`, or a log's API name (`<attempt>.<file>`); nothing that could name a path. */
const ARTIFACT_NAME = /^(?:patch|[1-9][0-9]{0,5}\.[a-z0-9][a-z0-9._-]{0,80})$/;

export interface NewRunArtifact {
  readonly runId: string;
  readonly name: string;
  readonly content: Buffer;
  readonly sha256: string;
  readonly originalBytes: number;
  readonly createdAt: string;
  /** Stored only while this fence holds the run's lease (else LEASE_FENCED). */
  readonly fence?: RunFence;
}

export function runArtifactFromRow(row: Omit<RunArtifactsTable, 'content'>): RunArtifactRecord {
  return {
    runId: row.run_id,
    name: row.name,
    sha256: row.sha256,
    bytes: Number(row.bytes),
    originalBytes: Number(row.original_bytes),
    createdAt: row.created_at,
  };
}

export function checkArtifactName(name: string): void {
  if (!ARTIFACT_NAME.test(name)) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `artifact name ${JSON.stringify(name)} is neither "patch" nor a log name like "1.stdout.log"`,
      { field: 'name' },
    );
  }
}

/**
 * Stores (or replaces) one artifact of a run, checking the fence in the same transaction. The
 * check does not lock the run: a holder that loses its lease at that instant may still store a
 * log, which is harmless because nothing trusts an artifact by name alone (a patch is used only
 * when its digest is the one the run's final, fenced update recorded).
 */
export function* putRunArtifact(
  db: Kysely<DatabaseSchema>,
  artifact: NewRunArtifact,
): SqlOperation<RunArtifactRecord> {
  checkArtifactName(artifact.name);
  const current = yield* readFencedRun(db, artifact.runId);
  if (current === undefined) {
    throw new AasError('NOT_FOUND', `no run ${artifact.runId}`, { field: 'runId' });
  }
  if (artifact.fence !== undefined && !fenceHolds(artifact.fence, current)) {
    throw leaseFenced(artifact.fence, current);
  }
  const row = {
    run_id: artifact.runId,
    name: artifact.name,
    sha256: artifact.sha256,
    bytes: artifact.content.length,
    original_bytes: artifact.originalBytes,
    content: artifact.content,
    created_at: artifact.createdAt,
  };
  yield* rowsOf(
    db
      .insertInto('run_artifacts')
      .values(row)
      .onConflict((conflict) =>
        conflict.columns(['run_id', 'name']).doUpdateSet({
          sha256: row.sha256,
          bytes: row.bytes,
          original_bytes: row.original_bytes,
          content: row.content,
          created_at: row.created_at,
        }),
      )
      .compile(),
  );
  return runArtifactFromRow(row);
}
