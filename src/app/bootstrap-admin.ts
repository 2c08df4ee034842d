import { hashTokenSecret, issueToken } from '../api/index.js';
import { type Clock, isAasError, type Logger } from '../kernel/index.js';
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
  log?: Logger,
): Promise<string | null> {
  if ((await store.countTokens()) > 0) {
    // Set at every start (a service's environment) it is the admin token already; anything
    // else in it would be taken for a way in that does not exist.
    if (
      bootstrapToken !== undefined &&
      (await store.findTokenBySecretHash(hashTokenSecret(bootstrapToken))) === null
    ) {
      log?.warn(
        { field: 'AAS_BOOTSTRAP_TOKEN' },
        'AAS_BOOTSTRAP_TOKEN is not used: the database has tokens already and this secret is not one of them (it makes the first admin token of an empty database only); aas token create makes more',
      );
    }
    return null;
  }
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
