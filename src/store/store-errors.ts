import { AasError, isAasError } from '../kernel/index.js';

/** `host:port/database` of a connection URL: enough to act on, never the user or password. */
export function describeDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    const port = url.port === '' ? '5432' : url.port;
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    return `${url.hostname}:${port}/${database}`;
  } catch {
    return '(unparseable database URL)';
  }
}

function codeOf(thrown: unknown): string {
  if (typeof thrown !== 'object' || thrown === null) return '';
  const code = (thrown as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/** PostgreSQL SQLSTATE 23505 and SQLite's PRIMARYKEY/UNIQUE constraint codes. */
export function isUniqueViolation(thrown: unknown): boolean {
  const code = codeOf(thrown);
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

/**
 * PostgreSQL refuses text it cannot store: 22021 (a byte sequence invalid in the encoding) and
 * 22P05 (an untranslatable character, such as \u0000 in jsonb). The input is at fault, not the
 * database, so the caller gets a 4xx and the value is not retried.
 */
export function isUnstorableText(thrown: unknown): boolean {
  const code = codeOf(thrown);
  return code === '22021' || code === '22P05';
}

/**
 * Connection-level failures: SQLSTATE class 08 (connection exception), 57P01-57P03 (server
 * shutting down or not yet accepting), socket errors, and SQLite lock time-outs (another process
 * held the write lock longer than busy_timeout).
 */
export function isUnavailable(thrown: unknown): boolean {
  const code = codeOf(thrown);
  return (
    code.startsWith('08') ||
    /^57P0[123]$/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH'].includes(
      code,
    ) ||
    code.startsWith('SQLITE_BUSY') ||
    code.startsWith('SQLITE_LOCKED') ||
    /Connection terminated|timeout exceeded when trying to connect/i.test(messageOf(thrown))
  );
}

/** Maps a driver error to the store's vocabulary; AasErrors pass through unchanged. */
export function toStoreError(thrown: unknown, operation: string): AasError {
  if (isAasError(thrown)) return thrown;
  const message = `${operation}: ${messageOf(thrown)}`;
  if (isUniqueViolation(thrown)) {
    return new AasError(
      'CONFLICT',
      message,
      { hint: 'a record with this id already exists' },
      { cause: thrown },
    );
  }
  if (isUnstorableText(thrown)) {
    return new AasError(
      'INVALID_ARGUMENT',
      message,
      {
        hint: 'a text value holds a NUL character or an invalid byte sequence, which PostgreSQL cannot store; remove it',
      },
      { cause: thrown },
    );
  }
  if (isUnavailable(thrown)) {
    return new AasError(
      'STORE_UNAVAILABLE',
      message,
      { hint: 'the database is unreachable or locked by another process; retry' },
      { cause: thrown },
    );
  }
  return new AasError('INTERNAL', message, {}, { cause: thrown });
}

export function notFound(kind: 'session' | 'run' | 'attempt', id: string): AasError {
  return new AasError('NOT_FOUND', `no ${kind} with id ${id}`, { [`${kind}Id`]: id });
}

/** Limits and seq cursors are non-negative integers. */
export function checkLimit(limit: number | undefined, field: string): void {
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `${field} must be a non-negative integer, got ${limit}`,
      {
        field,
      },
    );
  }
}
