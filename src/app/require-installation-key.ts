import { AasError } from '../kernel/index.js';
import type { Store } from '../store/index.js';

export const SIGNING_KEY_FACT = 'signing_key_id';

/**
 * Every server on one database signs with one key: the first to start records its key's id,
 * and one whose home holds another key is refused. Such a replica (another AAS_HOME on the same
 * database) used to start silently, sign attestations with a key no other replica publishes,
 * and answer about promotions from files only its own home has.
 */
export async function requireInstallationKey(
  store: Pick<Store, 'recordInstallationFact'>,
  key: { readonly keyId: string; readonly keysDir: string },
  nowIso: string,
): Promise<void> {
  const recorded = await store.recordInstallationFact(SIGNING_KEY_FACT, key.keyId, nowIso);
  if (recorded.value === key.keyId) return;
  throw new AasError(
    'CONFIG_INVALID',
    `the signing key in ${key.keysDir} (${key.keyId}) is not this installation's: the database records ${recorded.value}, first used ${recorded.recordedAt}`,
    {
      field: 'AAS_HOME',
      hint: `servers and commands sharing a database share one AAS_HOME: use the home the others use (a shared directory); to replace the installation's key on purpose, stop every server, put the new key in their home's keys/ and delete the record: DELETE FROM installation_facts WHERE name = '${SIGNING_KEY_FACT}'`,
    },
  );
}
