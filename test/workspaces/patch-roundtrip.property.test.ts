import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  computePatch,
  createWorkspace,
  prepareRunGit,
  type RuntimeRule,
  resolveBase,
} from '../../src/workspaces/index.js';
import { describeTree, joinPath, readTreeSnapshot } from './tree-snapshot.js';
import {
  applyInFreshClone,
  baseTree,
  cleanupAll,
  expectedTree,
  tempDir,
  tempRepo,
} from './workspace-fixture.js';

afterAll(cleanupAll);

/**
 * Leaf paths only (no path is a directory of another), so any sequence of edits is possible
 * without file/directory clashes; they mix spaces, unicode, depth, dotfiles and a runtime dir.
 */
const PATHS = [
  'a.txt',
  'b.bin',
  'run.sh',
  '.hidden',
  'dir one/c.txt',
  'dir one/sub/d.md',
  'ünï/cödé.txt',
  'x/y/z/deep.ts',
  'logs/run.log',
  'empty',
] as const;
type RepoPath = (typeof PATHS)[number];

const runtimeRule: RuntimeRule = (path) =>
  path.startsWith('logs/') ? { layer: 'floor', rule: 'logs/**' } : null;

const LINES = [
  'alpha',
  'beta',
  '++plus',
  '--minus',
  '',
  ' indented',
  '\ttab',
  'é ü 日本',
  '@@ -1 +1 @@',
  '\\ backslash',
];

const contentArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({
      lines: fc.array(fc.constantFrom(...LINES), { maxLength: 12 }),
      eol: fc.constantFrom('\n', '\r\n'),
      trailing: fc.boolean(),
    })
    .map(({ lines, eol, trailing }) =>
      Buffer.from(lines.join(eol) + (trailing && lines.length > 0 ? eol : ''), 'utf8'),
    ),
  fc
    .uint8Array({ minLength: 0, maxLength: 48 })
    .map((bytes) => Buffer.concat([Buffer.from([0]), Buffer.from(bytes)])),
  fc.constant(Buffer.alloc(0)),
);

type Edit =
  | { readonly op: 'write'; readonly path: RepoPath; readonly content: Buffer }
  | { readonly op: 'delete'; readonly path: RepoPath }
  | {
      readonly op: 'rename';
      readonly path: RepoPath;
      readonly to: RepoPath;
      readonly append: string;
    }
  | { readonly op: 'chmod'; readonly path: RepoPath; readonly executable: boolean }
  | { readonly op: 'symlink'; readonly path: RepoPath; readonly target: string };

const pathArb = fc.constantFrom(...PATHS);
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('write' as const), path: pathArb, content: contentArb }),
  fc.record({ op: fc.constant('delete' as const), path: pathArb }),
  fc.record({
    op: fc.constant('rename' as const),
    path: pathArb,
    to: pathArb,
    append: fc.constantFrom('', 'tail\n'),
  }),
  fc.record({ op: fc.constant('chmod' as const), path: pathArb, executable: fc.boolean() }),
  fc.record({
    op: fc.constant('symlink' as const),
    path: pathArb,
    target: fc.constantFrom('a.txt', '../a.txt', 'missing', 'dir one'),
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

/** Applies one edit the way an agent's tools would; edits that make no sense here are skipped. */
function applyEdit(ws: string, edit: Edit): void {
  const at = joinPath(ws, edit.path);
  switch (edit.op) {
    case 'write':
      if (exists(at)) rmSync(at);
      mkdirSync(dirname(at), { recursive: true });
      writeFileSync(at, edit.content);
      return;
    case 'delete':
      if (exists(at)) rmSync(at);
      return;
    case 'rename': {
      const to = joinPath(ws, edit.to);
      if (!exists(at) || edit.to === edit.path || lstatSync(at).isSymbolicLink()) return;
      if (exists(to)) rmSync(to);
      mkdirSync(dirname(to), { recursive: true });
      renameSync(at, to);
      if (edit.append !== '') writeFileSync(to, edit.append, { flag: 'a' });
      return;
    }
    case 'chmod':
      if (exists(at) && !lstatSync(at).isSymbolicLink())
        chmodSync(at, edit.executable ? 0o755 : 0o644);
      return;
    case 'symlink':
      if (exists(at)) rmSync(at);
      mkdirSync(dirname(at), { recursive: true });
      symlinkSync(edit.target, at);
      return;
  }
}

describe('patch round trip (property)', () => {
  it('for random edit scripts, applying the patch to the base reproduces the workspace', async () => {
    const repo = tempRepo({
      'a.txt': 'alpha\nbeta\ngamma\n',
      'b.bin': Buffer.from([0, 1, 2, 3, 255]),
      'run.sh': '#!/bin/sh\necho run\n',
      'dir one/c.txt': 'one\r\ntwo\r\n',
      'ünï/cödé.txt': 'unicode\n',
      'logs/run.log': 'tracked log\n',
      empty: '',
    });
    const runsDir = tempDir('aas-prop-');
    const runDir = join(runsDir, 'run_0123456789abcdef01234567');
    const runGit = await prepareRunGit({ runDir, repo });
    const base = await resolveBase(runGit, { allowDirty: false });
    const before = baseTree(repo, base.baseCommit);
    let attempt = 0;

    await fc.assert(
      fc.asyncProperty(fc.array(editArb, { minLength: 1, maxLength: 10 }), async (edits) => {
        attempt += 1;
        const ws = await createWorkspace(runGit, {
          baseCommit: base.baseCommit,
          attemptDir: join(runDir, `attempt-${attempt}`),
        });
        for (const edit of edits) applyEdit(ws.dir, edit);

        const patch = await computePatch(ws, { runtimeRule });

        expect(Buffer.from(patch.text, 'utf8').toString('utf8')).toBe(patch.text);
        expect(patch.files.every((file) => !file.path.startsWith('logs/'))).toBe(true);
        const applied = applyInFreshClone(repo, base.baseCommit, patch);
        const expected = expectedTree(readTreeSnapshot(ws.dir), before, patch);
        expect(describeTree(applied)).toEqual(describeTree(expected));
        expect(existsSync(join(ws.dir, '.git'))).toBe(false);
      }),
      { numRuns: 25 },
    );
  });
});
