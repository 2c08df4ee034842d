import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  collectOrphanWorkspaces,
  createWorkspace,
  prepareRunGit,
  resolveBase,
} from '../../src/workspaces/index.js';
import { cleanupAll, tempDir, tempRepo } from './workspace-fixture.js';

afterAll(cleanupAll);

const LIVE = 'run_00000000000000000000000a';
const DEAD = 'run_00000000000000000000000b';

async function makeRun(runsDir: string, runId: string, repo: string): Promise<string> {
  const runDir = join(runsDir, runId);
  const git = await prepareRunGit({ runDir, repo });
  const base = await resolveBase(git, { allowDirty: false });
  const ws = await createWorkspace(git, {
    baseCommit: base.baseCommit,
    attemptDir: join(runDir, 'attempt-1'),
  });
  writeFileSync(join(runDir, 'attempt-1', 'stdout.log'), 'kept\n');
  return ws.dir;
}

describe('collectOrphanWorkspaces', () => {
  it('removes workspaces of runs that are not live and keeps everything else', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n', 'd/b.txt': 'b\n' });
    const runsDir = tempDir('aas-runs-');
    const liveWs = await makeRun(runsDir, LIVE, repo);
    const deadWs = await makeRun(runsDir, DEAD, repo);
    chmodSync(join(deadWs, 'd'), 0o500);

    // Things the collector must never touch: a non-run directory that looks like an attempt,
    // and a symlink named like a run that points at a directory outside runsDir.
    const outside = tempDir('aas-outside-');
    mkdirSync(join(outside, 'attempt-1', 'workspace'), { recursive: true });
    writeFileSync(join(outside, 'attempt-1', 'base.index'), 'x');
    symlinkSync(outside, join(runsDir, 'run_00000000000000000000000c'));
    mkdirSync(join(runsDir, 'not-a-run', 'attempt-1', 'workspace'), { recursive: true });
    writeFileSync(join(runsDir, 'not-a-run', 'attempt-1', 'base.index'), 'x');

    const asked: string[] = [];
    const result = await collectOrphanWorkspaces({
      runsDir,
      isRunLive: async (runId) => {
        asked.push(runId);
        return runId === LIVE;
      },
    });

    expect(asked.sort()).toEqual([LIVE, DEAD]);
    expect(result.removed).toEqual([join(runsDir, DEAD, 'attempt-1')]);
    expect(result.kept).toEqual([join(runsDir, LIVE, 'attempt-1')]);
    expect(existsSync(deadWs)).toBe(false);
    expect(readdirSync(join(runsDir, DEAD, 'attempt-1'))).toEqual(['stdout.log']);
    expect(existsSync(join(runsDir, DEAD, 'git', 'HEAD'))).toBe(true);
    expect(existsSync(liveWs)).toBe(true);
    expect(existsSync(join(outside, 'attempt-1', 'workspace'))).toBe(true);
    expect(existsSync(join(runsDir, 'not-a-run', 'attempt-1', 'workspace'))).toBe(true);
  });

  it('keeps a run whose liveness cannot be decided, and tolerates a missing runs directory', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const runsDir = tempDir('aas-runs-');
    const ws = await makeRun(runsDir, DEAD, repo);
    const result = await collectOrphanWorkspaces({
      runsDir,
      isRunLive: async () => {
        throw new Error('store unavailable');
      },
    });
    expect(result).toEqual({ removed: [], kept: [join(runsDir, DEAD, 'attempt-1')] });
    expect(existsSync(ws)).toBe(true);
    expect(
      await collectOrphanWorkspaces({
        runsDir: join(runsDir, 'missing'),
        isRunLive: async () => false,
      }),
    ).toEqual({
      removed: [],
      kept: [],
    });
  });
});
