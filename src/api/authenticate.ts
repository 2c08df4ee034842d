import { AasError } from '../kernel/index.js';
import type { Store } from '../store/index.js';
import type { Identity } from './api-deps.js';
import { PERMISSIONS, type Permission, roleAllows } from './permissions.js';
import { hashTokenSecret, isTokenSecretFormat } from './tokens.js';
import { isWorkerCredentialFormat } from './worker-secrets.js';

const BEARER = /^Bearer +(\S+) *$/i;

/** One message for a missing, malformed, unknown and revoked token: none reveals which it was. */
function unauthenticated(): AasError {
  return new AasError('UNAUTHENTICATED', 'a valid bearer token is required', {
    hint: 'send "Authorization: Bearer aas_…"; an administrator issues tokens',
  });
}

/**
 * Resolves the caller from the `Authorization` header. Looked up on every request, never
 * cached: a revoked token stops working on its next request, in this process or any other
 * sharing the database. The lookup is one indexed read by the secret's SHA-256; a header that
 * is not even a well-formed token costs no read at all.
 */
export async function authenticate(
  store: Store,
  authorization: string | undefined,
): Promise<Identity> {
  const secret = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
  if (secret !== undefined && isWorkerCredentialFormat(secret)) {
    // A remote worker's credential: its own table, so revoking the worker ends it at once.
    const worker = await store.findWorkerByCredentialHash(hashTokenSecret(secret));
    if (worker === null || worker.revokedAt !== null) throw unauthenticated();
    return {
      tokenId: worker.id,
      name: `worker:${worker.name}`,
      role: 'worker',
      workerId: worker.id,
    };
  }
  if (secret === undefined || !isTokenSecretFormat(secret)) throw unauthenticated();
  const token = await store.findTokenBySecretHash(hashTokenSecret(secret));
  if (token === null || token.revokedAt !== null) throw unauthenticated();
  return { tokenId: token.id, name: token.name, role: token.role };
}

export function authorize(identity: Identity, permission: Permission): void {
  if (!roleAllows(identity.role, permission)) {
    const roles: readonly string[] = PERMISSIONS[permission];
    const named = roles.map((role) => `"${role}"`);
    const needed =
      named.length === 1
        ? `role ${named[0]}`
        : `role ${named.slice(0, -1).join(', ')} or ${named.at(-1)}`;
    throw new AasError(
      'FORBIDDEN',
      `this needs the "${permission}" permission (${needed}), which role "${identity.role}" does not have`,
      {
        permission,
        role: identity.role,
        roles: [...roles],
        hint:
          permission === 'workers:work'
            ? "this route is for remote workers: it takes an enrolled worker's credential"
            : `ask an admin for a token of ${needed} (\`aas token create --role ${roles[0] ?? 'admin'}\`)`,
      },
    );
  }
}
