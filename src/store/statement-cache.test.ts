import {
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from 'kysely';
import { describe, expect, it } from 'vitest';
import type { DatabaseSchema } from './database-schema.js';
import { cachedStatement } from './statement-cache.js';

function compilerOnly(): Kysely<DatabaseSchema> {
  return new Kysely<DatabaseSchema>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
}

describe('cachedStatement', () => {
  it('builds a shape once and binds each call’s values, keeping constants', () => {
    const db = compilerOnly();
    let builds = 0;
    const renew = (runId: string, expiresAt: string) =>
      cachedStatement(db, 'renew', { runId, expiresAt }, (p) => {
        builds += 1;
        return db
          .updateTable('runs')
          .set((eb) => ({ lease_expires_at: p.expiresAt, version: eb('version', '+', 1) }))
          .where('id', '=', p.runId)
          .where('status', '=', 'running');
      });
    const first = renew('run_1', 'T1');
    const second = renew('run_2', 'T2');
    expect(builds).toBe(1);
    expect(second.sql).toBe(first.sql);
    expect(first.parameters).toEqual(['T1', 1, 'run_1', 'running']);
    expect(second.parameters).toEqual(['T2', 1, 'run_2', 'running']);
    // The cache is per database: another one compiles its own.
    cachedStatement(compilerOnly(), 'renew', { runId: 'x', expiresAt: 'y' }, (p) => {
      builds += 1;
      return db.selectFrom('runs').select('id').where('id', '=', p.runId);
    });
    expect(builds).toBe(2);
  });

  it('refuses a value inlined into the SQL text, and a call with other values than its shape', () => {
    const db = compilerOnly();
    expect(() =>
      cachedStatement(db, 'inlined', { status: 'queued' }, (p) =>
        db.selectFrom('runs').select('id').where('status', '=', sql.lit(p.status)),
      ),
    ).toThrow('statement inlined inlines a value into its SQL text');
    const byId = (values: Record<string, unknown>) =>
      cachedStatement(db, 'byId', values, (p) =>
        db
          .selectFrom('runs')
          .select('id')
          .where('id', '=', p.id as string),
      );
    byId({ id: 'run_1' });
    expect(() => byId({ id: 'run_1', status: 'queued' })).toThrow(
      'statement byId was called with other values than it has',
    );
  });
});
