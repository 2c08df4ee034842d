import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { openTestRuntime } from '../helpers/test-runtime.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

async function openRuntimeAt(home: string): Promise<void> {
  const runtime = await openTestRuntime(home);
  await runtime.close();
}

/**
 * The data directory holds patches, attestations, logs, fetched (possibly private) repositories
 * and the database with token hashes: none of it is for other local users to read.
 */
describe('the data directory is its owner’s alone', () => {
  it('creates a new home, its data directories and its database readable by the owner only', async () => {
    const parent = makeTempDir('aas-perm-');
    cleanup.push(parent);
    chmodSync(parent, 0o755);
    const home = join(parent, 'created-on-the-way', 'home');
    await openRuntimeAt(home);
    expect(modeOf(home)).toBe(0o700);
    for (const dir of ['runs', 'cache', 'artifacts', 'repos']) {
      expect(modeOf(join(home, dir)), dir).toBe(0o700);
    }
    expect(modeOf(join(home, 'aas.db'))).toBe(0o600);
    // A directory created on the way keeps the usual mode: only the home is private.
    expect(modeOf(join(parent, 'created-on-the-way'))).not.toBe(0o700);
  });

  it('gives the SQLite write-ahead log and shared memory the database file’s mode', async () => {
    const dir = makeTempDir('aas-perm-wal-');
    cleanup.push(dir);
    const store = await openStore({ sqlitePath: join(dir, 'aas.db') });
    try {
      await store.countRunsByStatus();
      for (const file of ['aas.db', 'aas.db-wal', 'aas.db-shm']) {
        expect(existsSync(join(dir, file)), file).toBe(true);
        expect(modeOf(join(dir, file)), file).toBe(0o600);
      }
    } finally {
      await store.close();
    }
  });

  it('keeps the mode of a home that existed, and narrows what is in it', async () => {
    const home = makeTempDir('aas-perm-existing-');
    cleanup.push(home);
    chmodSync(home, 0o755);
    mkdirSync(join(home, 'artifacts'), { mode: 0o755 });
    chmodSync(join(home, 'artifacts'), 0o755);
    writeFileSync(join(home, 'aas.db'), '', { mode: 0o644 });
    chmodSync(join(home, 'aas.db'), 0o644);
    await openRuntimeAt(home);
    expect(modeOf(home)).toBe(0o755);
    expect(modeOf(join(home, 'artifacts'))).toBe(0o700);
    expect(modeOf(join(home, 'aas.db'))).toBe(0o600);
  });
});
