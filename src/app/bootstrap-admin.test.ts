import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Logger, ManualClock, silentLogger } from '../kernel/index.js';
import { openStore, type Store } from '../store/index.js';
import { bootstrapAdmin } from './bootstrap-admin.js';

/**
 * The first admin token, on a real SQLite file. Another server starting on the same database
 * may have stored it between this one's look at the empty table and its own insert: that
 * server won, and this one starts without a token to show.
 */
describe('bootstrapAdmin', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function freshStore(): Promise<Store> {
    const dir = mkdtempSync(join(tmpdir(), 'aas-bootstrap-'));
    dirs.push(dir);
    const store = await openStore({ sqlitePath: join(dir, 'aas.db') });
    stores.push(store);
    return store;
  }

  /** The store as a server sees it that read the token table just before the other's insert. */
  function lookingEmpty(store: Store): Store {
    return new Proxy(store, {
      get(target, key) {
        if (key === 'countTokens') return async () => 0;
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  it('issues one admin token, shown once, and none while any token exists', async () => {
    const store = await freshStore();
    const clock = new ManualClock();
    const secret = await bootstrapAdmin(store, clock, undefined);
    expect(secret).toMatch(/^aas_/);
    expect(await bootstrapAdmin(store, clock, undefined)).toBeNull();
    expect((await store.listTokens()).map((token) => token.name)).toEqual(['admin']);
  });

  it('loses a race to another server quietly, with a generated secret or the same bootstrap token', async () => {
    const clock = new ManualClock();
    const generated = await freshStore();
    await bootstrapAdmin(generated, clock, undefined);
    expect(await bootstrapAdmin(lookingEmpty(generated), clock, undefined)).toBeNull();

    const supplied = await freshStore();
    const token = `aas_${'a'.repeat(43)}`;
    expect(await bootstrapAdmin(supplied, clock, token)).toBeNull();
    expect(await bootstrapAdmin(lookingEmpty(supplied), clock, token)).toBeNull();
    expect(await supplied.countTokens()).toBe(1);
  });

  it('says when AAS_BOOTSTRAP_TOKEN is not used, unless it is the admin token already', async () => {
    const clock = new ManualClock();
    const store = await freshStore();
    const token = `aas_${'b'.repeat(43)}`;
    await bootstrapAdmin(store, clock, token);
    const warnings: string[] = [];
    const log: Logger = {
      ...silentLogger,
      warn: (_fields, message) => warnings.push(message ?? ''),
    };
    // The same secret at every start of a service: nothing to say.
    expect(await bootstrapAdmin(store, clock, token, log)).toBeNull();
    expect(warnings).toEqual([]);
    // Another one: it opens nothing, and the operator hears so.
    expect(await bootstrapAdmin(store, clock, `aas_${'c'.repeat(43)}`, log)).toBeNull();
    expect(warnings).toEqual([
      expect.stringMatching(/^AAS_BOOTSTRAP_TOKEN is not used: the database has tokens already/),
    ]);
  });
});
