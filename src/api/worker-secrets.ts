import { randomBytes } from 'node:crypto';
import { AasError, type Clock, IdPrefix, newId } from '../kernel/index.js';
import { WORKER_LABEL_PATTERN } from '../runner/index.js';
import type { RemoteWorkerRecord, Store, WorkerEnrolmentRecord } from '../store/index.js';
import { hashTokenSecret, TOKEN_NAME_PATTERN } from './tokens.js';

/**
 * Remote-worker secrets have prefixes of their own, so the server knows from the secret alone
 * which table to look it up in (one read per request, as for tokens), and a secret pasted in
 * the wrong place is recognisable: `aasw_` a worker's credential, `aase_` a one-time enrolment.
 */
export const WORKER_CREDENTIAL_PATTERN = /^aasw_[A-Za-z0-9_-]{32,256}$/;
export const ENROLMENT_SECRET_PATTERN = /^aase_[A-Za-z0-9_-]{32,256}$/;

export function newWorkerCredential(): string {
  return `aasw_${randomBytes(32).toString('base64url')}`;
}

export function newEnrolmentSecret(): string {
  return `aase_${randomBytes(32).toString('base64url')}`;
}

export function isWorkerCredentialFormat(value: string): boolean {
  return WORKER_CREDENTIAL_PATTERN.test(value);
}

export function isEnrolmentSecretFormat(value: string): boolean {
  return ENROLMENT_SECRET_PATTERN.test(value);
}

/**
 * Creates a one-time enrolment for the worker `name` and returns its secret (the only time it
 * exists outside the caller's hands). INVALID_ARGUMENT naming the field for a bad name, label
 * or lifetime; CONFLICT when a worker already has the name.
 */
export async function enrolWorker(
  store: Store,
  clock: Clock,
  input: { name: string; labels: readonly string[]; ttlSec: number; createdBy: string },
): Promise<{ enrolment: WorkerEnrolmentRecord; secret: string }> {
  if (!TOKEN_NAME_PATTERN.test(input.name)) {
    throw new AasError('INVALID_ARGUMENT', `invalid worker name "${input.name}"`, {
      field: 'name',
      hint: 'use 1-64 characters: lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
  }
  const badLabel = input.labels.find((label) => !WORKER_LABEL_PATTERN.test(label));
  if (badLabel !== undefined || input.labels.length > 16) {
    throw new AasError('INVALID_ARGUMENT', `invalid worker label "${badLabel ?? '(too many)'}"`, {
      field: 'labels',
      hint: 'at most 16 labels of lowercase letters, digits, ".", "_" or "-"',
    });
  }
  if (!Number.isInteger(input.ttlSec) || input.ttlSec < 60 || input.ttlSec > 7 * 86_400) {
    throw new AasError('INVALID_ARGUMENT', 'the enrolment lifetime must be 60 s to 7 days', {
      field: 'ttlSec',
    });
  }
  const secret = newEnrolmentSecret();
  const nowMs = clock.nowMs();
  const enrolment = await store.createWorkerEnrolment({
    id: newId(IdPrefix.enrolment, nowMs),
    name: input.name,
    labels: [...new Set(input.labels)],
    secretSha256: hashTokenSecret(secret),
    createdAt: new Date(nowMs).toISOString(),
    createdBy: input.createdBy,
    expiresAt: new Date(nowMs + input.ttlSec * 1000).toISOString(),
  });
  return { enrolment, secret };
}

/**
 * Revokes the worker `idOrName` and withdraws the unused enrolments of its name, so that no
 * secret handed out for it registers a worker again. NOT_FOUND when no worker matches.
 */
export async function revokeWorker(
  store: Store,
  clock: Clock,
  idOrName: string,
): Promise<RemoteWorkerRecord> {
  const worker = await store.revokeWorker(idOrName, clock.nowIso());
  await store.withdrawEnrolments(worker.name, clock.nowIso());
  return worker;
}

/**
 * Withdraws the unused enrolments of the worker name `name` (a secret handed out but not used
 * yet, or leaked). NOT_FOUND when there is none.
 */
export async function withdrawEnrolments(
  store: Store,
  clock: Clock,
  name: string,
): Promise<WorkerEnrolmentRecord[]> {
  const withdrawn = TOKEN_NAME_PATTERN.test(name)
    ? await store.withdrawEnrolments(name, clock.nowIso())
    : [];
  if (withdrawn.length === 0) {
    throw new AasError('NOT_FOUND', `no unused enrolment for a worker named "${name}"`, {
      field: 'name',
      hint: 'aas worker enrolments lists the unused ones; a registered worker is revoked instead',
    });
  }
  return withdrawn;
}
