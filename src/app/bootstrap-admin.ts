import { issueToken } from '../api/index.js';
import { type Clock, isAasError } from '../kernel/index.js';
import type { Store } from '../store/index.js';

/**
 * An empty token table gets one admin token: from AAS_BOOTSTRAP_TOKEN (`bootstrapToken`), or
 * generated and returned to be shown once. Two servers starting together on one database race
 * on the unique name (NAME_TAKEN), or with the same bootstrap secret on its hash (CONFLICT); the
 * loser finds the token there and returns null, as if the table had not been empty.
 */
export async function bootstrapAdmin(
  store: Store,
  clock: Clock,
  bootstrapToken: string | undefined,
): Promise<string | null> {
  if ((await store.countTokens()) > 0) return null;
  try {
    const issued = await issueToken(store, clock, {
      name: 'admin',
      role: 'admin',
      createdBy: 'system:bootstrap',
      ...(bootstrapToken ? { secret: bootstrapToken } : {}),
    });
    // A secret the operator supplied is theirs already; only a generated one is shown.
    return bootstrapToken ? null : issued.secret;
  } catch (thrown) {
    if (isAasError(thrown) && (thrown.code === 'NAME_TAKEN' || thrown.code === 'CONFLICT')) {
      return null;
    }
    throw thrown;
  }
}
