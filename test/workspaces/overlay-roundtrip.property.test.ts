import {
  chmodSync,
  lstatSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { computePatch, type RuntimeRule } from '../../src/workspaces/index.js';
import {
  overlaySuiteName,
  overlaySupport,
  setupTwins,
  unmountTestMounts,
} from './overlay-fixture.js';
import { describeTree, joinPath, readTreeSnapshot } from './tree-snapshot.js';
import { applyInFreshClone, baseTree, cleanupAll, expectedTree } from './workspace-fixture.js';

afterAll(() => {
  unmountTestMounts();
  cleanupAll();
});

/** Leaf paths (no path is a directory of another) in nested directories that edits also remove whole. */
const PATHS = [
  'a.txt',
  'b.bin',
  '.gitignore',
  'dir one/c.txt',
  'dir one/sub/d.md',
  'dir one/sub/e.md',
  'ünï/cödé.txt',
  'x/y/z/deep.ts',
  'x/y/w.ts',
  'logs/run.log',
  'scratch.tmp',
] as const;
const DIRS = ['dir one', 'dir one/sub', 'x', 'x/y', 'x/y/z', 'ünï', 'logs'] as const;

const runtimeRule: RuntimeRule = (path) =>
  path.startsWith('logs/') ? { layer: 'floor', rule: 'logs/**' } : null;

const contentArb = fc.oneof(
  fc.constantFrom('alpha\n', 'beta\n', 'é ü 日本\n', '', '*.tmp\n', '*.tmp\nx/\n'),
  fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.concat([Buffer.from([0]), bytes])),
);

type Edit =
  | { readonly op: 'write'; readonly path: string; readonly content: string | Uint8Array }
  | { readonly op: 'delete'; readonly path: string }
  | { readonly op: 'rename'; readonly path: string; readonly to: string }
  | { readonly op: 'chmod'; readonly path: string; readonly executable: boolean }
  | { readonly op: 'symlink'; readonly path: string; readonly target: string }
  | { readonly op: 'rmdir'; readonly dir: string }
  | { readonly op: 'recreate'; readonly dir: string; readonly keep: readonly string[] };

const pathArb = fc.constantFrom(...PATHS);
const dirArb = fc.constantFrom(...DIRS);
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('write' as const), path: pathArb, content: contentArb }),
  fc.record({ op: fc.constant('delete' as const), path: pathArb }),
  fc.record({ op: fc.constant('rename' as const), path: pathArb, to: pathArb }),
  fc.record({ op: fc.constant('chmod' as const), path: pathArb, executable: fc.boolean() }),
  fc.record({
    op: fc.constant('symlink' as const),
    path: pathArb,
    target: fc.constantFrom('a.txt', '../a.txt', 'missing'),
  }),
  fc.record({ op: fc.constant('rmdir' as const), dir: dirArb }),
  fc.record({
    op: fc.constant('recreate' as const),
    dir: dirArb,
    keep: fc.subarray([...PATHS]),
  }),
);

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Applies one edit as an agent's tools would; edits that make no sense at that point are skipped. */
function applyEdit(ws: string, edit: Edit): void {
  switch (edit.op) {
    case 'write': {
      const at = joinPath(ws, edit.path);
      if (exists(at)) rmSync(at);
      mkdirSync(dirname(at), { recursive: true });
      writeFileSync(at, edit.content);
      return;
    }
    case 'delete':
      rmSync(joinPath(ws, edit.path), { force: true });
      return;
    case 'rename': {
      const at = joinPath(ws, edit.path);
      const to = joinPath(ws, edit.to);
      if (!exists(at) || edit.to === edit.path) return;
      rmSync(to, { force: true });
      mkdirSync(dirname(to), { recursive: true });
      renameSync(at, to);
      return;
    }
    case 'chmod': {
      const at = joinPath(ws, edit.path);
      if (exists(at) && !lstatSync(at).isSymbolicLink())
        chmodSync(at, edit.executable ? 0o755 : 0o644);
      return;
    }
    case 'symlink': {
      const at = joinPath(ws, edit.path);
      rmSync(at, { force: true });
      mkdirSync(dirname(at), { recursive: true });
      symlinkSync(edit.target, at);
      return;
    }
    case 'rmdir':
      rmSync(joinPath(ws, edit.dir), { recursive: true, force: true });
      return;
    case 'recreate': {
      // Remove the directory and write some of the same names back: an opaque directory.
      rmSync(joinPath(ws, edit.dir), { recursive: true, force: true });
      mkdirSync(joinPath(ws, edit.dir), { recursive: true });
      for (const path of edit.keep.filter((p) => p.startsWith(`${edit.dir}/`))) {
        mkdirSync(dirname(joinPath(ws, path)), { recursive: true });
        writeFileSync(joinPath(ws, path), `re-created ${path}\n`);
      }
      return;
    }
  }
}

describe(overlaySuiteName('overlay patch equals worktree patch (property)'), () => {
  it.skipIf(!overlaySupport.overlay)(
    'for random edit scripts, both strategies give the same PatchResult, and it round-trips',
    async () => {
      const twins = await setupTwins({
        'a.txt': 'alpha\nbeta\n',
        'b.bin': Buffer.from([0, 1, 2, 3, 255]),
        '.gitignore': '*.tmp\n',
        'dir one/c.txt': 'one\r\ntwo\r\n',
        'dir one/sub/d.md': 'd\n',
        'dir one/sub/e.md': 'e\n',
        'ünï/cödé.txt': 'unicode\n',
        'x/y/z/deep.ts': 'deep\n',
        'x/y/w.ts': 'w\n',
        'logs/run.log': 'tracked log\n',
      });
      const before = baseTree(twins.repo, twins.base.baseCommit);
      await fc.assert(
        fc.asyncProperty(fc.array(editArb, { minLength: 1, maxLength: 8 }), async (edits) => {
          const worktree = await twins.attempt('worktree');
          const overlay = await twins.attempt('overlay');
          for (const edit of edits) {
            applyEdit(worktree.dir, edit);
            applyEdit(overlay.dir, edit);
          }
          const expected = await computePatch(worktree, { runtimeRule });
          const actual = await computePatch(overlay, { runtimeRule });
          expect(actual).toEqual(expected);
          const applied = applyInFreshClone(twins.repo, twins.base.baseCommit, actual);
          const wanted = expectedTree(readTreeSnapshot(overlay.dir), before, actual);
          expect(describeTree(applied)).toEqual(describeTree(wanted));
        }),
        { numRuns: Number(process.env.OVERLAY_PROP_RUNS ?? 30) },
      );
    },
  );
});
