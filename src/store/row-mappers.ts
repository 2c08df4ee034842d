import { AasError } from '../kernel/index.js';
import type { AttemptRow, EventRow, RunRow, SessionRow, TokenRow } from './database-schema.js';
import {
  type AttemptRecord,
  AttemptStatus,
  RUN_STATUSES,
  type RunRecord,
  type RunStatus,
  type SessionRecord,
  type StoredEvent,
  TOKEN_ROLES,
  type TokenRecord,
  type TokenRole,
} from './records.js';

const ATTEMPT_STATUSES: readonly string[] = Object.values(AttemptStatus);

/** Parses a JSON column. A parse failure means the row was edited outside the store. */
export function parseJsonColumn(text: string, column: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AasError(
      'INTERNAL',
      `column ${column} does not hold valid JSON`,
      { field: column },
      { cause: error },
    );
  }
}

export function parseRunStatus(value: string, column: string): RunStatus {
  const status = RUN_STATUSES.find((candidate) => candidate === value);
  if (status === undefined) {
    throw new AasError('INTERNAL', `column ${column} holds unknown run status "${value}"`, {
      field: column,
    });
  }
  return status;
}

function parseAttemptStatus(value: string): AttemptStatus {
  if (!ATTEMPT_STATUSES.includes(value)) {
    throw new AasError('INTERNAL', `column attempts.status holds unknown status "${value}"`, {
      field: 'attempts.status',
    });
  }
  return value as AttemptStatus;
}

function parseLabels(text: string): string[] {
  const labels = parseJsonColumn(text, 'sessions.labels');
  if (!Array.isArray(labels) || !labels.every((label) => typeof label === 'string')) {
    throw new AasError('INTERNAL', 'column sessions.labels is not a JSON array of strings', {
      field: 'sessions.labels',
    });
  }
  return labels;
}

export function sessionFromRow(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    task: row.task,
    repo: row.repo,
    agent: row.agent,
    requestedBy: row.requested_by,
    labels: parseLabels(row.labels),
    status: parseRunStatus(row.status, 'sessions.status'),
    reasonCode: row.reason_code,
    lastSeq: row.last_seq,
    lastHash: row.last_hash,
  };
}

export function runFromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    status: parseRunStatus(row.status, 'runs.status'),
    reasonCode: row.reason_code,
    reasonDetail: row.reason_detail,
    jobSpec: parseJsonColumn(row.job_spec, 'runs.job_spec'),
    baseRef: row.base_ref,
    baseCommit: row.base_commit,
    patchSha256: row.patch_sha256,
    summary: row.summary === null ? null : parseJsonColumn(row.summary, 'runs.summary'),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    version: row.version,
    repo: row.repo,
    priority: row.priority,
    fencingToken: row.fencing_token,
    claimCount: row.claim_count,
    maxClaims: row.max_claims,
    renewedFencingToken: row.renewed_fencing_token ?? null,
    unacknowledgedClaims: row.unacknowledged_claims ?? 0,
    notBefore: row.not_before,
    cancelRequestedAt: row.cancel_requested_at,
    cancelRequestedBy: row.cancel_requested_by,
  };
}

export function attemptFromRow(row: AttemptRow): AttemptRecord {
  return {
    id: row.id,
    runId: row.run_id,
    number: row.number,
    agentId: row.agent_id,
    status: parseAttemptStatus(row.status),
    reasonCode: row.reason_code,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    detail: row.detail === null ? null : parseJsonColumn(row.detail, 'attempts.detail'),
  };
}

export function eventFromRow(row: EventRow): StoredEvent {
  return {
    sessionId: row.session_id,
    seq: row.seq,
    type: row.type,
    at: row.at,
    actor: row.actor,
    data: parseJsonColumn(row.data, 'events.data'),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function parseTokenRole(value: string): TokenRole {
  const role = TOKEN_ROLES.find((candidate) => candidate === value);
  if (role === undefined) {
    throw new AasError('INTERNAL', `column tokens.role holds unknown role "${value}"`, {
      field: 'tokens.role',
    });
  }
  return role;
}

/** The secret's hash stays in the database: nothing outside the store needs it back. */
export function tokenFromRow(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: parseTokenRole(row.role),
    createdAt: row.created_at,
    createdBy: row.created_by,
    revokedAt: row.revoked_at,
  };
}
