import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { createQueuedRun, expectValidChain, runId, sessionId } from './queue-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const worker = join(here, 'fixtures', 'claim-worker.ts');

interface WorkerReport {
  readonly claimed: readonly string[];
  readonly maxRunning: number;
}

function isReport(message: unknown): message is WorkerReport {
  return typeof message === 'object' && message !== null && 'claimed' in message;
}

function readyOf(child: ChildProcess): Promise<void> {
  return new Promise((ready, fail) => {
    child.once('message', () => ready());
    child.once('exit', (code) => fail(new Error(`worker exited with ${code} before it was ready`)));
  });
}

function reportOf(child: ChildProcess): Promise<{ code: number | null; report?: WorkerReport }> {
  return new Promise((done) => {
    let report: WorkerReport | undefined;
    child.on('message', (message) => {
      if (isReport(message)) report = message;
    });
    child.once('exit', (code) => done({ code, ...(report ? { report } : {}) }));
  });
}

/**
 * Separate processes claiming from one SQLite file: their write transactions really contend
 * for the database lock (BEGIN IMMEDIATE, busy_timeout), which in-process stores never do.
 */
describe('SQLite queue shared by several processes', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) removeDir(dir);
  });

  it('claims every run exactly once and never exceeds the per-repo limit', async () => {
    dir = makeTempDir('aas-store-mp-claims-');
    const sqlitePath = join(dir, 'aas.db');
    const store = await openStore({ sqlitePath });
    const runs = 240;
    const limit = 2;
    for (let n = 1; n <= runs; n += 1) {
      await createQueuedRun(store, n, { repo: `/repos/r${n % 3}`, priority: n % 4 });
    }

    const processes = 4;
    const children = Array.from({ length: processes }, (_, p) =>
      fork(worker, [sqlitePath, `p${p}`, String(limit)], {
        cwd: repoRoot,
        execArgv: ['--import', 'tsx'],
      }),
    );
    const reports = children.map(reportOf);
    await Promise.all(children.map(readyOf));
    for (const child of children) child.send('go');
    const outcomes = await Promise.all(reports);

    expect(outcomes.map((outcome) => outcome.code)).toEqual(children.map(() => 0));
    const claimed = outcomes.flatMap((outcome) => outcome.report?.claimed ?? []);
    expect(claimed).toHaveLength(runs);
    expect(new Set(claimed)).toEqual(new Set(Array.from({ length: runs }, (_, i) => runId(i + 1))));
    // Several processes took part (SQLite's busy wait is not fair, so not necessarily all),
    // and none ever saw more than `limit` running runs in a repo.
    expect(
      outcomes.filter((outcome) => (outcome.report?.claimed.length ?? 0) > 0).length,
    ).toBeGreaterThan(1);
    for (const outcome of outcomes) {
      expect(outcome.report?.maxRunning).toBeLessThanOrEqual(limit);
    }
    expect(await store.countRunsByStatus()).toMatchObject({
      queued: 0,
      running: 0,
      ready_for_promotion: runs,
    });
    for (let n = 1; n <= runs; n += 1) {
      expect(await store.getRun(runId(n))).toMatchObject({ fencingToken: 1, claimCount: 1 });
      expectValidChain(await store.readEvents(sessionId(n)), await store.getSession(sessionId(n)));
    }
    await store.close();
  });
});
