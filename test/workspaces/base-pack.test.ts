import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import {
  addBasePack,
  cachedBaseCommits,
  createBasePack,
  hasCachedCommit,
  openBaseCache,
} from '../../src/workspaces/index.js';
import {
  commitAll,
  createTempRepo,
  git,
  headCommit,
  makeTempDir,
  removeDir,
} from '../helpers/temp-repo.js';

/**
 * A base travels to a remote worker as a git pack: the whole history the first time, only what
 * is new after that (a thin pack against the commits the worker already holds), verified by git
 * on arrival. Real repositories on both sides.
 */
const LARGE = `${randomBytes(32_768)
  .toString('hex')
  .replace(/(.{64})/g, '$1\n')}\n`;

describe('base packs', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  function fixture() {
    // Incompressible content: a full pack is large, a delta against it small.
    const repo = createTempRepo({ 'README.md': '# demo\n', 'src/a.txt': LARGE });
    const cache = makeTempDir('aas-cache-');
    dirs.push(repo, cache);
    return { repo, cache };
  }

  it('carries a commit with its history into a fresh cache, then only what is new', async () => {
    const { repo, cache } = fixture();
    const first = headCommit(repo);
    const cached = await openBaseCache(cache, 'a'.repeat(32));
    expect(await cachedBaseCommits(cached)).toEqual([]);

    const full = await createBasePack({ repo, ref: null, haves: [] });
    expect(full.commit).toBe(first);
    await addBasePack(cached, full.commit, full.pack);
    expect(await hasCachedCommit(cached, first)).toBe(true);
    expect(await cachedBaseCommits(cached)).toEqual([first]);

    // A small change to a large file: the thin pack deltas against what the cache holds.
    writeFileSync(join(repo, 'src/a.txt'), `${LARGE}b\n`);
    const second = commitAll(repo, 'second');
    const thin = await createBasePack({ repo, ref: 'HEAD', haves: [first] });
    expect(thin.commit).toBe(second);
    expect(thin.haves).toEqual([first]);
    expect(thin.pack.length).toBeLessThan(full.pack.length);
    await addBasePack(cached, thin.commit, thin.pack);
    // The cache now reads the new file whole: the delta was completed from its own objects.
    const env = { ...process.env, GIT_DIR: join(cached, '.git') };
    const text = git(cached, ['--git-dir', env.GIT_DIR, 'show', `${second}:src/a.txt`]);
    expect(text.endsWith('b\n')).toBe(true);
    expect(new Set(await cachedBaseCommits(cached))).toEqual(new Set([first, second]));
  });

  it('ignores haves the repository does not know, and names an unknown ref', async () => {
    const { repo } = fixture();
    const pack = await createBasePack({
      repo,
      ref: 'main',
      haves: ['f'.repeat(40), 'nonsense'],
    }).catch((error: unknown) => error);
    // The default branch of the helper repo may be named anything: resolve HEAD's name.
    const branch = git(repo, ['symbolic-ref', '--short', 'HEAD']).trim();
    const named = await createBasePack({ repo, ref: branch, haves: ['f'.repeat(40)] });
    expect(named.haves).toEqual([]);
    expect(named.commit).toBe(headCommit(repo));
    if (branch !== 'main') expect(isAasError(pack) && pack.code).toBe('BASE_REF_UNKNOWN');
    const unknown = await createBasePack({ repo, ref: 'no-such-branch', haves: [] }).catch(
      (error: unknown) => error,
    );
    expect(isAasError(unknown) && unknown.code).toBe('BASE_REF_UNKNOWN');
  });

  it('refuses a pack that does not hold the commit it claims', async () => {
    const { repo, cache } = fixture();
    const other = createTempRepo({ 'other.txt': 'other\n' });
    dirs.push(other);
    const cached = await openBaseCache(cache, 'b'.repeat(32));
    const wrong = await createBasePack({ repo: other, ref: null, haves: [] });
    const refused = await addBasePack(cached, headCommit(repo), wrong.pack).catch(
      (error: unknown) => error,
    );
    expect(isAasError(refused)).toBe(true);
    expect(await hasCachedCommit(cached, headCommit(repo))).toBe(false);
    // Damaged bytes never become objects.
    const damaged = Buffer.from(wrong.pack);
    damaged[damaged.length - 30] = (damaged[damaged.length - 30] ?? 0) ^ 0xff;
    const broken = await addBasePack(cached, wrong.commit, damaged).catch(
      (error: unknown) => error,
    );
    expect(isAasError(broken)).toBe(true);
  });
  it('stops packing once whoever asked went away', async () => {
    const repo = createTempRepo({ 'README.md': '# demo\n', 'src/a.txt': LARGE });
    dirs.push(repo);
    const before = new AbortController();
    before.abort();
    await expect(
      createBasePack({ repo, ref: null, haves: [], signal: before.signal }),
    ).rejects.toMatchObject({ code: 'CANCELLED' });
    // Aborted while git runs: git is killed, and what it wrote is not taken for a pack.
    const during = new AbortController();
    const packing = createBasePack({ repo, ref: null, haves: [], signal: during.signal });
    setImmediate(() => during.abort());
    const outcome = await packing.then(
      () => 'packed',
      (thrown: unknown) => (isAasError(thrown) ? thrown.code : 'other'),
    );
    // Resolving HEAD runs before the pack: an abort that lands there still stops the pack.
    expect(outcome).toBe('CANCELLED');
  });
});
