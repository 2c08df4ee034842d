import { createHash, randomBytes } from 'node:crypto';
import { AasError, type Clock, IdPrefix, newId } from '../kernel/index.js';
import { type Store, TOKEN_ROLES, type TokenRecord, TokenRole } from '../store/index.js';

export const TOKEN_SECRET_PREFIX = 'aas_';

/** Token names become the identity written into history: short, lowercase, printable. */
export const TOKEN_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * `aas_` and at least 32 base64url characters (a generated secret has 43: 32 random bytes).
 * The upper bound keeps a hostile header from costing more than one short hash.
 */
export const TOKEN_SECRET_PATTERN = /^aas_[A-Za-z0-9_-]{32,256}$/;

/** A fresh secret: `aas_` + 32 random bytes, base64url. Shown once, never stored. */
export function newTokenSecret(): string {
  return `${TOKEN_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Lowercase hex SHA-256: what the store keeps and looks tokens up by. */
export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function isTokenSecretFormat(value: string): boolean {
  return TOKEN_SECRET_PATTERN.test(value);
}

/**
 * Creates a token and returns its secret (the only time it exists outside the caller's hands).
 * A supplied secret (provisioning from a secret manager) must have the generated format.
 * Errors: INVALID_ARGUMENT naming the field; NAME_TAKEN from the store when the name is taken.
 */
export async function issueToken(
  store: Store,
  clock: Clock,
  input: { name: string; role: TokenRole; createdBy: string; secret?: string },
): Promise<{ token: TokenRecord; secret: string }> {
  if (!TOKEN_NAME_PATTERN.test(input.name)) {
    throw new AasError('INVALID_ARGUMENT', `invalid token name "${input.name}"`, {
      field: 'name',
      hint: 'use 1-64 characters: lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
  }
  if (!(TOKEN_ROLES as readonly string[]).includes(input.role)) {
    throw new AasError('INVALID_ARGUMENT', `invalid token role "${String(input.role)}"`, {
      field: 'role',
      hint: `one of: ${TOKEN_ROLES.filter((role) => role !== TokenRole.worker).join(', ')}`,
    });
  }
  if (input.role === TokenRole.worker) {
    // Such a token would be bound to no worker, and the worker routes refuse it (403).
    throw new AasError('INVALID_ARGUMENT', 'the worker role is for remote workers only', {
      field: 'role',
      hint: 'a remote worker gets its own credential: aas worker enrol --name <name>, then aas worker --token <that secret> on its host',
    });
  }
  if (input.secret !== undefined && !isTokenSecretFormat(input.secret)) {
    throw new AasError('INVALID_ARGUMENT', 'the supplied token secret has the wrong format', {
      field: 'secret',
      hint: `"${TOKEN_SECRET_PREFIX}" followed by at least 32 base64url characters; omit it to generate one`,
    });
  }
  const secret = input.secret ?? newTokenSecret();
  const token = await store.createToken({
    id: newId(IdPrefix.token, clock.nowMs()),
    name: input.name,
    role: input.role,
    secretSha256: hashTokenSecret(secret),
    createdAt: clock.nowIso(),
    createdBy: input.createdBy,
  });
  return { token, secret };
}
