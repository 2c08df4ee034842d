import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BaseResolution,
  createWorkspace,
  type PatchResult,
  prepareRunGit,
  type RunGit,
  resolveBase,
  type Workspace,
} from '../../src/workspaces/index.js';
import {
  createTempRepo,
  type FileTree,
  git,
  makeTempDir,
  removeDir,
} from '../helpers/temp-repo.js';
import { readTreeSnapshot, type TreeSnapshot } from './tree-snapshot.js';

/** Temp directories created by a test file; `cleanupAll()` in afterAll removes them. */
const created: string[] = [];

export function tempDir(prefix = 'aas-ws-test-'): string {
  const dir = makeTempDir(prefix);
  created.push(dir);
  return dir;
}

export function tempRepo(files: FileTree): string {
  const repo = createTempRepo(files);
  created.push(repo);
  return repo;
}

export function cleanupAll(): void {
  for (const dir of created.splice(0)) removeDir(dir);
}

export interface RunFixture {
  readonly repo: string;
  readonly runDir: string;
  readonly git: RunGit;
  readonly base: BaseResolution;
  readonly ws: Workspace;
}

/** A real repository, a run dir, a resolved base and attempt 1's workspace. */
export async function setupRun(
  files: FileTree,
  options: { repo?: string; allowDirty?: boolean } = {},
): Promise<RunFixture> {
  const repo = options.repo ?? tempRepo(files);
  const runDir = join(tempDir('aas-run-'), 'run_0123456789abcdef01234567');
  const runGit = await prepareRunGit({ runDir, repo });
  const base = await resolveBase(runGit, { allowDirty: options.allowDirty ?? false });
  const ws = await createWorkspace(runGit, {
    baseCommit: base.baseCommit,
    attemptDir: join(runDir, 'attempt-1'),
  });
  return { repo, runDir, git: runGit, base, ws };
}

/**
 * Applies a patch for real (`git apply`, work tree) in a fresh clone checked out at `commit`
 * and returns the clone's files. The clone is independent of AAS's private git dir.
 */
export function applyInFreshClone(repo: string, commit: string, patch: PatchResult): TreeSnapshot {
  const clone = tempDir('aas-clone-');
  git(clone, ['clone', '--quiet', '--no-checkout', repo, 'c']);
  const dir = join(clone, 'c');
  git(dir, ['checkout', '--quiet', '--detach', commit]);
  const patchFile = join(clone, 'change.patch');
  writeFileSync(patchFile, patch.text);
  if (patch.text.length > 0) git(dir, ['apply', '--whitespace=nowarn', patchFile]);
  return readTreeSnapshot(dir);
}

/** The tree the patch should produce: the workspace minus ignored files, with dropped paths at their base state. */
export function expectedTree(
  ws: TreeSnapshot,
  base: TreeSnapshot,
  patch: PatchResult,
): TreeSnapshot {
  const expected = new Map(ws);
  for (const ignored of patch.ignoredUntracked) {
    for (const path of [...expected.keys()]) {
      if (ignored.endsWith('/') ? path.startsWith(ignored) : path === ignored)
        expected.delete(path);
    }
  }
  for (const dropped of patch.runtimeDropped) {
    for (const path of [...expected.keys()]) {
      if (path === dropped.path || path.startsWith(`${dropped.path}/`)) expected.delete(path);
    }
    for (const [path, entry] of base) {
      if (path === dropped.path || path.startsWith(`${dropped.path}/`)) expected.set(path, entry);
    }
  }
  return expected;
}

/** Checkout of `commit` alone, to know base states. */
export function baseTree(repo: string, commit: string): TreeSnapshot {
  const clone = tempDir('aas-base-');
  git(clone, ['clone', '--quiet', '--no-checkout', repo, 'c']);
  git(join(clone, 'c'), ['checkout', '--quiet', '--detach', commit]);
  return readTreeSnapshot(join(clone, 'c'));
}
