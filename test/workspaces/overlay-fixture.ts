import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BaseResolution,
  createWorkspace,
  prepareRunGit,
  type RunGit,
  resolveBase,
  type Workspace,
  workspaceStrategySupport,
} from '../../src/workspaces/index.js';
import type { FileTree } from '../helpers/temp-repo.js';
import { tempDir, tempRepo } from './workspace-fixture.js';

/** The real probe, once per test file: overlay tests are skipped (and say why) without it. */
export const overlaySupport = await workspaceStrategySupport();

export function overlaySuiteName(name: string): string {
  return overlaySupport.overlay ? name : `${name} (skipped: ${overlaySupport.reason})`;
}

/** Mount points in this process's namespace, from the kernel's table. */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\040/g, ' '));
}

export function isMounted(path: string): boolean {
  return mountPoints().includes(path);
}

/**
 * Lazily unmounts every mount a test left under the temp directory, deepest first, so the
 * fixture's recursive delete never runs through one. Call before cleanupAll().
 */
export function unmountTestMounts(): void {
  const root = `${tmpdir()}/aas-`;
  const left = mountPoints()
    .filter((point) => point.startsWith(root))
    .sort((a, b) => b.length - a.length);
  for (const point of left) execFileSync('umount', ['-l', point]);
}

export interface Twins {
  readonly repo: string;
  readonly runDir: string;
  readonly git: RunGit;
  readonly base: BaseResolution;
  readonly cacheDir: string;
  /** A fresh attempt of the run with the given strategy. */
  attempt(strategy: 'overlay' | 'worktree'): Promise<Workspace>;
}

/** One repository and run, and workspaces of either strategy on its base, side by side. */
export async function setupTwins(
  files: FileTree,
  options: { repo?: string; cacheDir?: string } = {},
): Promise<Twins> {
  const repo = options.repo ?? tempRepo(files);
  const runDir = join(tempDir('aas-run-'), 'run_0123456789abcdef01234567');
  const git = await prepareRunGit({ runDir, repo });
  const base = await resolveBase(git, { allowDirty: false });
  const cacheDir = options.cacheDir ?? join(tempDir('aas-cache-'), 'checkouts');
  let attempts = 0;
  return {
    repo,
    runDir,
    git,
    base,
    cacheDir,
    attempt: (strategy) => {
      attempts += 1;
      return createWorkspace(git, {
        baseCommit: base.baseCommit,
        attemptDir: join(runDir, `attempt-${attempts}`),
        strategy,
        checkoutCacheDir: cacheDir,
      });
    },
  };
}
