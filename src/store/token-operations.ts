import type { Kysely } from 'kysely';
import { AasError } from '../kernel/index.js';
import type { DatabaseSchema, TokenRow } from './database-schema.js';
import { type NewToken, TOKEN_ROLES, type TokenRecord } from './records.js';
import { tokenFromRow } from './row-mappers.js';
import { rowsOf, type SqlOperation } from './sql-operation.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Refuses a token the store could not look up again: an unknown role or a malformed hash. */
export function checkNewToken(token: NewToken): void {
  if (!TOKEN_ROLES.includes(token.role)) {
    throw new AasError('INVALID_ARGUMENT', `unknown token role "${token.role}"`, {
      field: 'role',
      allowed: TOKEN_ROLES,
    });
  }
  if (!SHA256_HEX.test(token.secretSha256)) {
    throw new AasError('INVALID_ARGUMENT', 'secretSha256 must be 64 lowercase hex digits', {
      field: 'secretSha256',
    });
  }
}

/** The existing token `token` would collide with, if any. */
export function* findTokenClash(
  db: Kysely<DatabaseSchema>,
  token: NewToken,
): SqlOperation<Pick<TokenRow, 'id' | 'name' | 'secret_sha256'> | undefined> {
  const [clash] = yield* rowsOf(
    db
      .selectFrom('tokens')
      .select(['id', 'name', 'secret_sha256'])
      .where((eb) =>
        eb.or([
          eb('name', '=', token.name),
          eb('secret_sha256', '=', token.secretSha256),
          eb('id', '=', token.id),
        ]),
      )
      .limit(1)
      .compile(),
  );
  return clash;
}

/** CONFLICT naming the field that collides. The secret's hash is never echoed back. */
export function tokenConflict(
  token: NewToken,
  clash: Pick<TokenRow, 'id' | 'name' | 'secret_sha256'>,
): AasError {
  if (clash.name === token.name) {
    return new AasError(
      'NAME_TAKEN',
      `a token named "${token.name}" already exists (names stay taken after revocation)`,
      { field: 'name', name: token.name, hint: 'choose another name' },
    );
  }
  if (clash.secret_sha256 === token.secretSha256) {
    return new AasError('CONFLICT', 'a token with this secret already exists', {
      field: 'secretSha256',
      hint: 'generate a new secret',
    });
  }
  return new AasError('CONFLICT', `a token with id ${token.id} already exists`, {
    field: 'id',
    id: token.id,
  });
}

export function* createToken(
  db: Kysely<DatabaseSchema>,
  token: NewToken,
): SqlOperation<TokenRecord> {
  const clash = yield* findTokenClash(db, token);
  if (clash !== undefined) throw tokenConflict(token, clash);
  const row: TokenRow = {
    id: token.id,
    name: token.name,
    role: token.role,
    secret_sha256: token.secretSha256,
    created_at: token.createdAt,
    created_by: token.createdBy,
    revoked_at: null,
  };
  yield* rowsOf(db.insertInto('tokens').values(row).compile());
  return tokenFromRow(row);
}

/**
 * Revokes by id, else by name (an id is never mistaken for another token's name). A second
 * revocation keeps the first `revoked_at`. The last admin token that works is not revoked: no
 * one could manage tokens through the API any more.
 */
export function* revokeToken(
  db: Kysely<DatabaseSchema>,
  idOrName: string,
  revokedAt: string,
): SqlOperation<TokenRecord> {
  // Every working admin token is locked first (a write that changes nothing): two revocations
  // of the last two admins would otherwise each count both under PostgreSQL's READ COMMITTED,
  // lock only their own row, and leave none. The second now waits, and its count, taken by a
  // statement that starts after the first committed, sees one. SQLite writes one at a time.
  yield* rowsOf(
    db
      .updateTable('tokens')
      .set((eb) => ({ revoked_at: eb.ref('revoked_at') }))
      .where('role', '=', 'admin')
      .where('revoked_at', 'is', null)
      .compile(),
  );
  for (const column of ['id', 'name'] as const) {
    const [row] = yield* rowsOf(
      db
        .updateTable('tokens')
        .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(revokedAt)) }))
        .where(column, '=', idOrName)
        .where((eb) =>
          eb.or([
            eb('role', '!=', 'admin'),
            eb('revoked_at', 'is not', null),
            eb(
              db
                .selectFrom('tokens as admins')
                .select((inner) => inner.fn.countAll<number>().as('count'))
                .where('admins.role', '=', 'admin')
                .where('admins.revoked_at', 'is', null),
              '>',
              1,
            ),
          ]),
        )
        .returningAll()
        .compile(),
    );
    if (row !== undefined) return tokenFromRow(row);
    const [kept] = yield* rowsOf(
      db.selectFrom('tokens').select('name').where(column, '=', idOrName).compile(),
    );
    if (kept !== undefined) {
      throw new AasError(
        'INVALID_ARGUMENT',
        `${kept.name} is the last admin token that works: revoking it would leave no one to manage tokens`,
        {
          token: idOrName,
          hint: 'create another admin token first (aas token create --name <name> --role admin), then revoke this one',
        },
      );
    }
  }
  throw new AasError('NOT_FOUND', `no token with id or name "${idOrName}"`, { token: idOrName });
}
