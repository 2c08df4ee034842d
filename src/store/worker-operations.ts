import type { Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema, RemoteWorkerRow, WorkerEnrolmentRow } from './database-schema.js';
import type {
  NewWorkerEnrolment,
  RegisterWorkerInput,
  RemoteWorkerRecord,
  WorkerCapabilities,
  WorkerEnrolmentRecord,
} from './records.js';
import { parseJsonColumn } from './row-mappers.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

function stringArray(value: unknown, column: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new AasError('INTERNAL', `column ${column} is not a JSON array of strings`, {
      field: column,
    });
  }
  return value;
}

function parseCapabilities(text: string): WorkerCapabilities {
  const value = parseJsonColumn(text, 'remote_workers.capabilities');
  if (typeof value !== 'object' || value === null) {
    throw new AasError('INTERNAL', 'column remote_workers.capabilities is not an object', {
      field: 'remote_workers.capabilities',
    });
  }
  const record = value as Record<string, unknown>;
  return {
    agents: stringArray(record.agents, 'remote_workers.capabilities.agents'),
    sandbox: stringArray(record.sandbox, 'remote_workers.capabilities.sandbox'),
  };
}

export function remoteWorkerFromRow(row: RemoteWorkerRow): RemoteWorkerRecord {
  return {
    id: row.id,
    name: row.name,
    labels: stringArray(
      parseJsonColumn(row.labels, 'remote_workers.labels'),
      'remote_workers.labels',
    ),
    capabilities: parseCapabilities(row.capabilities),
    enrolledAt: row.enrolled_at,
    enrolledBy: row.enrolled_by,
    revokedAt: row.revoked_at,
    lastSeenAt: row.last_seen_at,
    // PostgreSQL's integer may come back as a string through some drivers: compare loosely.
    draining: Number(row.draining) === 1,
    selfDrainReportedAt: row.self_drain_reported_at,
  };
}

export function workerEnrolmentFromRow(row: WorkerEnrolmentRow): WorkerEnrolmentRecord {
  return {
    id: row.id,
    name: row.name,
    labels: stringArray(
      parseJsonColumn(row.labels, 'worker_enrolments.labels'),
      'worker_enrolments.labels',
    ),
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    workerId: row.worker_id,
  };
}

export function checkSha256(value: string, field: string): void {
  if (!SHA256_HEX.test(value)) {
    throw new AasError('INVALID_ARGUMENT', `${field} must be 64 lowercase hex digits`, { field });
  }
}

export function workerNameTaken(name: string): AasError {
  return new AasError(
    'NAME_TAKEN',
    `a worker named "${name}" already exists (names stay taken after revocation)`,
    { field: 'name', name, hint: 'choose another name' },
  );
}

/** One message for an unknown, used and expired enrolment: none reveals which it was. */
function enrolmentRefused(): AasError {
  return new AasError('UNAUTHENTICATED', 'the enrolment secret is unknown, used or expired', {
    hint: 'ask an administrator for a new one: aas worker enrol --name <name>',
  });
}

/** NAME_TAKEN when a worker already has the name: the enrolment could never be used. */
export function* createWorkerEnrolment(
  db: Kysely<DatabaseSchema>,
  enrolment: NewWorkerEnrolment,
): SqlOperation<WorkerEnrolmentRecord> {
  const [taken] = yield* rowsOf(
    db.selectFrom('remote_workers').select('id').where('name', '=', enrolment.name).compile(),
  );
  if (taken !== undefined) throw workerNameTaken(enrolment.name);
  const row: WorkerEnrolmentRow = {
    id: enrolment.id,
    name: enrolment.name,
    labels: JSON.stringify(enrolment.labels),
    secret_sha256: enrolment.secretSha256,
    created_at: enrolment.createdAt,
    created_by: enrolment.createdBy,
    expires_at: enrolment.expiresAt,
    used_at: null,
    worker_id: null,
  };
  yield* rowsOf(db.insertInto('worker_enrolments').values(row).compile());
  return workerEnrolmentFromRow(row);
}

/**
 * Spends the enrolment and creates its worker in one transaction. The spend is a conditional
 * UPDATE (unused and unexpired), so of two concurrent registrations with one secret exactly one
 * finds the row; a name taken meanwhile rolls the spend back with the insert.
 */
export function* registerWorker(
  db: Kysely<DatabaseSchema>,
  input: RegisterWorkerInput,
): SqlOperation<RemoteWorkerRecord> {
  const [enrolment] = yield* rowsOf(
    db
      .updateTable('worker_enrolments')
      .set({ used_at: input.nowIso, worker_id: input.workerId })
      .where('secret_sha256', '=', input.enrolmentSecretSha256)
      .where('used_at', 'is', null)
      .where('expires_at', '>', input.nowIso)
      .returningAll()
      .compile(),
  );
  if (enrolment === undefined) throw enrolmentRefused();
  const [taken] = yield* rowsOf(
    db.selectFrom('remote_workers').select('id').where('name', '=', enrolment.name).compile(),
  );
  if (taken !== undefined) throw workerNameTaken(enrolment.name);
  const row: RemoteWorkerRow = {
    id: input.workerId,
    name: enrolment.name,
    labels: enrolment.labels,
    capabilities: JSON.stringify({
      agents: [...input.capabilities.agents],
      sandbox: [...input.capabilities.sandbox],
    }),
    credential_sha256: input.credentialSha256,
    enrolled_at: input.nowIso,
    enrolled_by: enrolment.created_by,
    revoked_at: null,
    last_seen_at: input.nowIso,
    draining: 0,
    self_drain_reported_at: null,
  };
  yield* rowsOf(db.insertInto('remote_workers').values(row).compile());
  return remoteWorkerFromRow(row);
}

/**
 * An administrator's drain or resume. A revoked worker gets no runs at all, so either would
 * only say something untrue: INVALID_ARGUMENT.
 */
export function* setWorkerDraining(
  db: Kysely<DatabaseSchema>,
  idOrName: string,
  draining: boolean,
): SqlOperation<RemoteWorkerRecord> {
  const worker = yield* updateWorker(db, idOrName, { draining: draining ? 1 : 0 }, false);
  if (worker.revokedAt !== null) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `worker ${worker.name} was revoked at ${worker.revokedAt}: it gets no runs at all, so there is nothing to ${draining ? 'drain' : 'resume'}`,
      {
        field: 'worker',
        worker: worker.name,
        hint: 'enrol a new worker: aas worker enrol --name <name>',
      },
    );
  }
  return worker;
}

/** By id, else by name (an id is never mistaken for another worker's name). */
export function* updateWorker(
  db: Kysely<DatabaseSchema>,
  idOrName: string,
  changes: Partial<
    Pick<RemoteWorkerRow, 'revoked_at' | 'last_seen_at' | 'draining' | 'self_drain_reported_at'>
  >,
  keepFirstRevocation: boolean,
): SqlOperation<RemoteWorkerRecord> {
  for (const column of ['id', 'name'] as const) {
    const [row] = yield* rowsOf(
      db
        .updateTable('remote_workers')
        .set((eb) => ({
          ...changes,
          // A second revocation keeps the first time.
          ...(keepFirstRevocation && changes.revoked_at !== undefined
            ? { revoked_at: eb.fn.coalesce('revoked_at', eb.val(changes.revoked_at)) }
            : {}),
        }))
        .where(column, '=', idOrName)
        .returningAll()
        .compile(),
    );
    if (row !== undefined) return remoteWorkerFromRow(row);
  }
  throw new AasError('NOT_FOUND', `no worker with id or name "${idOrName}"`, {
    worker: idOrName,
  });
}
