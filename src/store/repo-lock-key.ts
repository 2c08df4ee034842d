import { createHash } from 'node:crypto';

/**
 * The PostgreSQL advisory-lock key that serialises claims of one repository's runs: the first
 * 64 bits of a SHA-256, as a signed decimal (`bigint` range). Stable across processes, versions
 * and servers, unlike `hashtext`. Two repos sharing a key (odds 2^-64 per pair) only make a
 * claim skip a candidate it could have taken, never exceed a limit.
 */
export function repoLockKey(repo: string): string {
  return createHash('sha256')
    .update(`aas:repo-claims:${repo}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
}
