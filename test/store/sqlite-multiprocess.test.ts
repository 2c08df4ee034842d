import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { computeEventHash, GENESIS_HASH } from '../../src/kernel/index.js';
import { openStore } from '../../src/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const worker = join(here, 'fixtures', 'append-worker.ts');

function readyOf(child: ChildProcess): Promise<void> {
  return new Promise((ready, fail) => {
    child.once('message', () => ready());
    child.once('exit', (code) => fail(new Error(`worker exited with ${code} before it was ready`)));
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((exited) => child.once('exit', (code) => exited(code)));
}

/**
 * Separate processes, separate connections, one SQLite file: the cross-process path the
 * in-process conformance test cannot reach (there, writes never overlap in time). Writers wait
 * on busy_timeout for BEGIN IMMEDIATE; none may fail and no seq may repeat or be skipped.
 */
describe('SQLite store shared by several processes', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) removeDir(dir);
  });

  it('keeps one gap-free, verifiable chain when processes append concurrently', async () => {
    dir = makeTempDir('aas-store-mp-');
    const sqlitePath = join(dir, 'aas.db');
    const sessionId = 'ses_000000000000000000000001';
    const store = await openStore({ sqlitePath });
    await store.createSession({
      session: {
        id: sessionId,
        createdAt: '2026-01-01T00:00:00.000Z',
        task: 'mp',
        repo: '/r',
        agent: 'mock',
        requestedBy: 'alice',
        labels: [],
      },
      run: {
        id: 'run_000000000000000000000001',
        createdAt: '2026-01-01T00:00:00.000Z',
        jobSpec: {},
      },
      events: [],
    });

    const processes = 4;
    const appends = 1_500;
    const children = Array.from({ length: processes }, (_, p) =>
      fork(worker, [sqlitePath, sessionId, String(appends), `p${p}`], {
        cwd: repoRoot,
        execArgv: ['--import', 'tsx'],
      }),
    );
    const exited = children.map(exitOf);
    await Promise.all(children.map(readyOf));
    for (const child of children) child.send('go');
    expect(await Promise.all(exited)).toEqual(children.map(() => 0));

    // Each worker appends 1, 2, 3, 1, 2, 3, … events: 1,500 appends = 3,000 events.
    const expected = processes * 3_000;
    const chain = await store.readEvents(sessionId);
    expect(chain).toHaveLength(expected);
    let prevHash = GENESIS_HASH;
    chain.forEach((event, index) => {
      expect(event.seq).toBe(index + 1);
      expect(event.prevHash).toBe(prevHash);
      expect(computeEventHash(event)).toBe(event.hash);
      prevHash = event.hash;
    });
    expect(await store.getSession(sessionId)).toMatchObject({
      lastSeq: expected,
      lastHash: prevHash,
    });
    for (let p = 0; p < processes; p += 1) {
      expect(chain.filter((event) => event.actor === `p${p}`)).toHaveLength(3_000);
    }
    await store.close();
  });
});
