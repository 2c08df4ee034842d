import { describe, expect, it } from 'vitest';
import { AasError } from '../kernel/index.js';
import { describeDatabaseUrl, isUniqueViolation, toStoreError } from './store-errors.js';

const withCode = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('describeDatabaseUrl', () => {
  it('keeps host, port and database, never the credentials', () => {
    const described = describeDatabaseUrl(
      'postgres://aas:p%40ss@db.example:6543/aas_prod?ssl=true',
    );
    expect(described).toBe('db.example:6543/aas_prod');
    expect(described).not.toContain('p%40ss');
    expect(described).not.toContain('aas:');
  });

  it('defaults the port to 5432', () => {
    expect(describeDatabaseUrl('postgresql://localhost/x')).toBe('localhost:5432/x');
  });

  it('does not echo an unparseable URL, which may hold a password', () => {
    expect(describeDatabaseUrl('postgres://user:secret@')).not.toContain('secret');
  });
});

describe('toStoreError', () => {
  it('passes AasErrors through', () => {
    const original = new AasError('NOT_FOUND', 'gone');
    expect(toStoreError(original, 'op')).toBe(original);
  });

  it('maps unique violations of both dialects to CONFLICT', () => {
    for (const code of ['23505', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE']) {
      expect(isUniqueViolation(withCode(code))).toBe(true);
      expect(toStoreError(withCode(code), 'createSession').code).toBe('CONFLICT');
    }
    expect(isUniqueViolation(withCode('SQLITE_CONSTRAINT_FOREIGNKEY'))).toBe(false);
  });

  it('maps text PostgreSQL cannot store (NUL, bad encoding) to INVALID_ARGUMENT', () => {
    for (const code of ['22021', '22P05']) {
      const mapped = toStoreError(withCode(code, 'unsupported Unicode escape sequence'), 'append');
      expect(mapped.code).toBe('INVALID_ARGUMENT');
      expect(mapped.details.hint).toMatch(/NUL character/);
    }
  });

  it('maps connection failures and lock time-outs to STORE_UNAVAILABLE', () => {
    for (const code of ['ECONNREFUSED', '08006', '57P01', 'SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT']) {
      expect(toStoreError(withCode(code), 'op').code).toBe('STORE_UNAVAILABLE');
    }
    expect(toStoreError(new Error('Connection terminated unexpectedly'), 'op').code).toBe(
      'STORE_UNAVAILABLE',
    );
  });

  it('maps anything else to INTERNAL, naming the operation and keeping the cause', () => {
    const cause = withCode('42P01', 'relation "x" does not exist');
    const error = toStoreError(cause, 'readEvents');
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toBe('readEvents: relation "x" does not exist');
    expect(error.cause).toBe(cause);
  });
});
