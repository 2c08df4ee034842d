import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectRepoCaches, openBaseCache } from '../../src/workspaces/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

const HOUR_MS = 3_600_000;

/**
 * Cache repositories (a URL's, a worker's bases) go once unused for long enough, unless a live
 * run uses them; opening one counts as using it.
 */
describe('collectRepoCaches', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  function lastUsed(path: string, ms: number) {
    const at = new Date(ms);
    utimesSync(join(path, '.git', 'aas-used'), at, at);
  }

  it('evicts idle caches no live run uses, and what interrupted work left behind', async () => {
    const cacheDir = makeTempDir('aas-repo-caches-');
    dirs.push(cacheDir);
    const nowMs = Date.now();
    const idle = await openBaseCache(cacheDir, 'a'.repeat(64));
    const live = await openBaseCache(cacheDir, 'b'.repeat(64));
    const recent = await openBaseCache(cacheDir, 'c'.repeat(32));
    lastUsed(idle, nowMs - 25 * HOUR_MS);
    lastUsed(live, nowMs - 25 * HOUR_MS);
    lastUsed(recent, nowMs - 23 * HOUR_MS);
    const staleInit = join(cacheDir, `${'d'.repeat(64)}.init-0123456789ab`);
    const freshInit = join(cacheDir, `${'e'.repeat(64)}.init-0123456789ab`);
    const interrupted = join(cacheDir, `.evict-${'f'.repeat(64)}-0123456789ab`);
    for (const dir of [staleInit, freshInit, interrupted]) mkdirSync(dir);
    utimesSync(staleInit, new Date(nowMs - 2 * HOUR_MS), new Date(nowMs - 2 * HOUR_MS));
    mkdirSync(join(cacheDir, 'not-a-cache'));

    const collected = await collectRepoCaches(cacheDir, {
      keepKeys: new Set(['b'.repeat(64)]),
      olderThanMs: 24 * HOUR_MS,
      nowMs,
    });
    expect(collected).toEqual({
      removed: ['a'.repeat(64)],
      kept: ['b'.repeat(64), 'c'.repeat(32)],
    });
    expect(existsSync(idle)).toBe(false);
    for (const kept of [live, recent, freshInit, join(cacheDir, 'not-a-cache')]) {
      expect(existsSync(kept), kept).toBe(true);
    }
    expect(existsSync(staleInit)).toBe(false);
    expect(existsSync(interrupted)).toBe(false);

    // Opened again, a cache is young again; with no age limit only live runs keep one.
    lastUsed(recent, nowMs - 25 * HOUR_MS);
    await openBaseCache(cacheDir, 'c'.repeat(32));
    const liveKeys = new Set(['b'.repeat(64)]);
    expect(
      (await collectRepoCaches(cacheDir, { keepKeys: liveKeys, olderThanMs: HOUR_MS, nowMs }))
        .removed,
    ).toEqual([]);
    expect(
      (
        await collectRepoCaches(cacheDir, {
          keepKeys: liveKeys,
          olderThanMs: 0,
          nowMs: Date.now() + 1_000,
        })
      ).removed,
    ).toEqual(['c'.repeat(32)]);
  });

  it('puts back a cache that a run opened between the look at it and its eviction', async () => {
    const cacheDir = makeTempDir('aas-repo-caches-');
    dirs.push(cacheDir);
    const nowMs = Date.now();
    const key = 'a'.repeat(64);
    const idle = await openBaseCache(cacheDir, key);
    writeFileSync(join(idle, 'kept-by-the-run'), 'x');
    lastUsed(idle, nowMs - 25 * HOUR_MS);
    const looked: string[] = [];

    const collected = await collectRepoCaches(cacheDir, {
      keepKeys: new Set(),
      olderThanMs: 24 * HOUR_MS,
      nowMs,
      beforeMove: async (name) => {
        looked.push(name);
        // A run opens the cache (which marks it used) at the worst moment.
        expect(await openBaseCache(cacheDir, key)).toBe(idle);
      },
    });

    expect(looked).toEqual([key]);
    expect(collected).toEqual({ removed: [], kept: [key] });
    expect(readFileSync(join(idle, 'kept-by-the-run'), 'utf8')).toBe('x');
    expect(readdirSync(cacheDir)).toEqual([key]);
  });

  it('finds nothing to do in a directory that does not exist', async () => {
    expect(
      await collectRepoCaches('/nonexistent/aas-caches', {
        keepKeys: new Set(),
        olderThanMs: 0,
        nowMs: Date.now(),
      }),
    ).toEqual({ removed: [], kept: [] });
  });
});
