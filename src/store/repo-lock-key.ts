import { createHash } from 'node:crypto';
import { type RawBuilder, sql } from 'kysely';

const PREFIX = 'aas:repo-claims:';

/**
 * The PostgreSQL advisory-lock key that serialises claims of one repository's runs: the first
 * 64 bits of a SHA-256, as a signed decimal (`bigint` range). Stable across processes, versions
 * and servers, unlike `hashtext`. Two repos sharing a key (odds 2^-64 per pair) only make a
 * claim skip a candidate it could have taken, never exceed a limit.
 */
export function repoLockKey(repo: string): string {
  return createHash('sha256').update(`${PREFIX}${repo}`).digest().readBigInt64BE(0).toString();
}

/**
 * repoLockKey computed by PostgreSQL (11 or later, for `sha256`) from a text column, so that a
 * statement can lock the repository of a row it has just chosen: the first 16 hex digits of the
 * digest read as a two's-complement 64-bit integer, as `readBigInt64BE` reads them.
 */
export function repoLockKeySql(column: string): RawBuilder<string> {
  return sql<string>`cast(cast(('x' || left(encode(sha256(convert_to(${sql.lit(PREFIX)} || ${sql.ref(column)}, 'UTF8')), 'hex'), 16)) as bit(64)) as bigint)`;
}
