import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AasError, ManualClock } from '../kernel/index.js';
import { openStore, type Store } from '../store/index.js';
import { SharedTokenCheck } from './shared-token-check.js';
import { issueToken } from './tokens.js';

/**
 * Streams ask at every keep-alive whether their token still holds; those of one token share
 * one lookup per `maxAgeMs`, on a real SQLite file.
 */
describe('SharedTokenCheck', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A real store whose token lookups are counted, and made to fail while `failing` is set. */
  async function countingStore(): Promise<{
    store: Store;
    lookups: () => number;
    fail: (on: boolean) => void;
  }> {
    const dir = mkdtempSync(join(tmpdir(), 'aas-token-check-'));
    dirs.push(dir);
    const real = await openStore({ sqlitePath: join(dir, 'aas.db') });
    stores.push(real);
    let count = 0;
    let failing = false;
    const store = new Proxy(real, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key);
        if (key === 'findTokenBySecretHash' && typeof value === 'function') {
          return async (...args: unknown[]) => {
            count += 1;
            if (failing) throw new AasError('STORE_UNAVAILABLE', 'the database is down');
            return value.apply(target, args);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return { store, lookups: () => count, fail: (on) => (failing = on) };
  }

  it('asks the store once per token and period, whatever the number of streams', async () => {
    const { store, lookups } = await countingStore();
    const clock = new ManualClock();
    const alice = await issueToken(store, clock, { name: 'alice', role: 'viewer', createdBy: 't' });
    const bob = await issueToken(store, clock, { name: 'bob', role: 'viewer', createdBy: 't' });
    const checks = new SharedTokenCheck({ store, clock, maxAgeMs: 1_000 });
    const aliceStreams = [1, 2, 3].map(() => checks.forHeader(`Bearer ${alice.secret}`));
    const bobStream = checks.forHeader(`Bearer ${bob.secret}`);
    expect(await Promise.all(aliceStreams.map((check) => check()))).toEqual([true, true, true]);
    expect(await bobStream()).toBe(true);
    expect(lookups()).toBe(2);
    clock.advance(999);
    expect(await aliceStreams[0]?.()).toBe(true);
    expect(lookups()).toBe(2);
    // Revoked: the next period's lookup ends every stream of that token, and only those.
    await store.revokeToken(alice.token.id, clock.nowIso());
    clock.advance(1);
    expect(await Promise.all(aliceStreams.map((check) => check()))).toEqual([false, false, false]);
    expect(await bobStream()).toBe(true);
    expect(lookups()).toBe(4);
  });

  it('ends no stream while the store cannot answer, and asks again next period', async () => {
    const { store, lookups, fail } = await countingStore();
    const clock = new ManualClock();
    const carol = await issueToken(store, clock, { name: 'carol', role: 'viewer', createdBy: 't' });
    const checks = new SharedTokenCheck({ store, clock, maxAgeMs: 1_000 });
    const stream = checks.forHeader(`Bearer ${carol.secret}`);
    fail(true);
    expect(await stream()).toBe(true);
    fail(false);
    await store.revokeToken(carol.token.id, clock.nowIso());
    clock.advance(1_000);
    expect(await stream()).toBe(false);
    expect(lookups()).toBe(2);
  });

  it('refuses a stream without a well-formed token without asking the store', async () => {
    const { store, lookups } = await countingStore();
    const checks = new SharedTokenCheck({ store, clock: new ManualClock(), maxAgeMs: 1_000 });
    expect(await checks.forHeader(undefined)()).toBe(false);
    expect(await checks.forHeader('Bearer nonsense')()).toBe(false);
    expect(lookups()).toBe(0);
  });
});
