import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import { checkPatchApplies, computePatch, type RuntimeRule } from '../../src/workspaces/index.js';
import { commitAll, git, writeTree } from '../helpers/temp-repo.js';
import { describeTree, joinPath, readTreeSnapshot } from './tree-snapshot.js';
import {
  applyInFreshClone,
  baseTree,
  cleanupAll,
  expectedTree,
  setupRun,
  tempDir,
  tempRepo,
} from './workspace-fixture.js';

afterAll(cleanupAll);

const runtimeRule: RuntimeRule = (path) => {
  if (path.startsWith('node_modules/')) return { layer: 'floor', rule: 'node_modules/**' };
  if (path.startsWith('logs/')) return { layer: 'repo', rule: 'logs/**' };
  return null;
};
const noRuntime: RuntimeRule = () => null;

const twentyLines = Array.from(
  { length: 20 },
  (_, i) => `line ${i + 1} of a file that will be renamed`,
).join('\n');
const binaryBase = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02, 0x03, 0xff, 0xfe, 0x00, 0x10,
]);

const BASE_FILES = {
  'README.md': '# demo\n',
  '.gitignore': '.cache/\n*.tmp\n',
  'src/keep.ts': 'export const keep = 1;\n',
  'src/delete-me.txt': 'bye\n',
  'src/rename-same.txt': 'identical content\nacross the rename\n',
  'src/rename-similar.txt': `${twentyLines}\n`,
  'bin/tool.sh': '#!/bin/sh\necho tool\n',
  'no-newline.txt': 'first\nsecond',
  'crlf.txt': 'one\r\ntwo\r\nthree\r\n',
  'assets/logo.bin': binaryBase,
  'logs/keep.log': 'tracked log\n',
};

/** The edits an agent might make, covering every kind of change the patch must carry. */
function editLikeAnAgent(ws: string): void {
  const at = (rel: string) => joinPath(ws, rel);
  rmSync(at('src/delete-me.txt'));
  renameSync(at('src/rename-same.txt'), at('src/renamed-same.txt'));
  renameSync(at('src/rename-similar.txt'), at('src/renamed-similar.txt'));
  writeFileSync(
    at('src/renamed-similar.txt'),
    `${twentyLines.replace('line 3 of', 'LINE THREE of').replace('line 9 of', 'LINE NINE of')}\n`,
  );
  chmodSync(at('bin/tool.sh'), 0o755);
  writeFileSync(at('no-newline.txt'), 'first\nsecond, edited');
  writeFileSync(at('crlf.txt'), 'one\r\ntwo, edited\r\nthree\r\nfour\r\n');
  writeFileSync(
    at('assets/logo.bin'),
    Buffer.concat([binaryBase, Buffer.from([0x00, 0x42, 0x00])]),
  );
  writeTree(ws, {
    'assets/new.bin': Buffer.from([0x00, 0x01, 0x02, 0xc3, 0x28, 0x00, 0xff]),
    'empty.txt': '',
    'new-no-newline.txt': 'x\ny',
    'dir with spaces/file name.txt': 'spaced\n',
    'unicodé/文件.txt': 'unicode path\n',
    'deep/new/nested/dir/file.ts': 'export const deep = true;\n',
    'dashes.txt': '--flag\n++plus\n---\n+++\n@@ -1 +1 @@\n',
    'node_modules/x.js': 'module.exports = 1;\n',
    'logs/a.log': 'runtime log\n',
    'logs/keep.log': 'tracked log, rewritten by a test run\n',
    '.cache/blob': 'ignored cache\n',
    'scratch.tmp': 'ignored scratch\n',
  });
  mkdirSync(at('links'));
  symlinkSync('../README.md', at('links/readme-link'));
  mkdirSync(at('empty-dir'));
}

describe('computePatch', () => {
  it('carries every kind of change, and applying it to a clean base reproduces the workspace byte for byte', async () => {
    const { repo, ws } = await setupRun(BASE_FILES);
    editLikeAnAgent(ws.dir);

    const patch = await computePatch(ws, { runtimeRule });

    const byPath = new Map(patch.files.map((file) => [file.path, file]));
    expect(byPath.get('src/delete-me.txt')).toMatchObject({ status: 'deleted', oldMode: '100644' });
    expect(byPath.get('src/delete-me.txt')?.newMode).toBeUndefined();
    expect(byPath.get('src/renamed-same.txt')).toMatchObject({
      status: 'renamed',
      oldPath: 'src/rename-same.txt',
      insertions: 0,
      deletions: 0,
    });
    expect(byPath.get('src/renamed-similar.txt')).toMatchObject({
      status: 'renamed',
      oldPath: 'src/rename-similar.txt',
      insertions: 2,
      deletions: 2,
    });
    expect(byPath.get('bin/tool.sh')).toMatchObject({
      status: 'modified',
      oldMode: '100644',
      newMode: '100755',
    });
    expect(byPath.get('crlf.txt')).toMatchObject({
      status: 'modified',
      binary: false,
      insertions: 2,
      deletions: 1,
    });
    expect(byPath.get('assets/logo.bin')).toMatchObject({ status: 'modified', binary: true });
    expect(byPath.get('assets/new.bin')).toMatchObject({
      status: 'added',
      binary: true,
      newMode: '100644',
    });
    expect(byPath.get('links/readme-link')).toMatchObject({
      status: 'added',
      newMode: '120000',
      symlinkTarget: '../README.md',
    });
    expect(byPath.get('empty.txt')).toMatchObject({ status: 'added', insertions: 0, deletions: 0 });
    expect(byPath.get('dir with spaces/file name.txt')).toMatchObject({ status: 'added' });
    expect(byPath.get('unicodé/文件.txt')).toMatchObject({ status: 'added' });
    expect(byPath.get('deep/new/nested/dir/file.ts')).toMatchObject({ status: 'added' });
    expect(byPath.get('dashes.txt')).toMatchObject({ status: 'added', insertions: 5 });

    expect(patch.runtimeDropped).toEqual([
      { path: 'logs/a.log', layer: 'repo', rule: 'logs/**' },
      { path: 'logs/keep.log', layer: 'repo', rule: 'logs/**' },
      { path: 'node_modules/x.js', layer: 'floor', rule: 'node_modules/**' },
    ]);
    expect([...patch.ignoredUntracked].sort()).toEqual(['.cache/', 'scratch.tmp']);
    for (const path of ['node_modules', 'logs/', '.cache', 'scratch.tmp', 'empty-dir'])
      expect(patch.text).not.toContain(path);

    // Text is ASCII-safe UTF-8 and the digest covers exactly its bytes.
    expect(Buffer.from(patch.text, 'utf8').toString('utf8')).toBe(patch.text);
    expect(patch.text).toContain('GIT binary patch');
    expect(patch.text).toContain('\\ No newline at end of file');
    expect(patch.sha256).toMatch(/^[0-9a-f]{64}$/);

    const insertions = patch.files.reduce((sum, file) => sum + file.insertions, 0);
    const deletions = patch.files.reduce((sum, file) => sum + file.deletions, 0);
    expect(patch.stats).toEqual({
      filesChanged: patch.files.length,
      insertions,
      deletions,
      patchLines: insertions + deletions,
    });

    const applied = applyInFreshClone(repo, ws.baseCommit, patch);
    const expected = expectedTree(readTreeSnapshot(ws.dir), baseTree(repo, ws.baseCommit), patch);
    expect(describeTree(applied)).toEqual(describeTree(expected));
    // Spot checks of what the comparison covers.
    expect(applied.get('crlf.txt')?.bytes.toString('latin1')).toBe(
      'one\r\ntwo, edited\r\nthree\r\nfour\r\n',
    );
    expect(applied.get('bin/tool.sh')?.executable).toBe(true);
    expect(applied.get('logs/keep.log')?.bytes.toString()).toBe('tracked log\n');
    expect(applied.has('node_modules/x.js')).toBe(false);

    expect(await checkPatchApplies(ws, patch.text)).toEqual({
      ok: true,
      detail: `applies cleanly to ${ws.baseCommit}`,
    });
  });

  it('returns an empty patch for an untouched workspace', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n' });
    const patch = await computePatch(ws, { runtimeRule: noRuntime });
    expect(patch).toMatchObject({ text: '', files: [], runtimeDropped: [], ignoredUntracked: [] });
    expect(patch.stats).toEqual({ filesChanged: 0, insertions: 0, deletions: 0, patchLines: 0 });
  });

  it('sees a same-size rewrite whose mtime was put back (ctime still moves)', async () => {
    const { ws } = await setupRun({ 'a.txt': 'aaaa\n' });
    const file = join(ws.dir, 'a.txt');
    const before = lstatSync(file);
    // Past the racy-git window, so only the stat comparison stands between us and a miss.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    writeFileSync(file, 'bbbb\n');
    utimesSync(file, before.atime, before.mtime);
    const patch = await computePatch(ws, { runtimeRule: noRuntime });
    expect(patch.files.map((f) => f.path)).toEqual(['a.txt']);
    expect(patch.text).toContain('+bbbb');
  });

  it('sees a same-size rewrite in the very second of the checkout, computed a second later', async () => {
    // git compares whole seconds: a write in the checkout's own second keeps mtime, ctime and
    // size equal to the index entry. Only git's racy-entry rule (entry mtime >= the index
    // file's mtime) catches it, so the index copy must keep the checkout index's mtime.
    const repo = tempRepo({ 'a.txt': 'aaaa\n' });
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    const { ws } = await setupRun({}, { repo });
    const file = join(ws.dir, 'a.txt');
    const before = lstatSync(file);
    writeFileSync(file, 'bbbb\n');
    utimesSync(file, before.atime, before.mtime);
    const sameSecond =
      Math.floor(lstatSync(file).ctimeMs / 1000) === Math.floor(before.ctimeMs / 1000);
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    const patch = await computePatch(ws, { runtimeRule: noRuntime });
    expect(sameSecond).toBe(true);
    expect(patch.files.map((f) => f.path)).toEqual(['a.txt']);
    expect(patch.text).toContain('+bbbb');
  });

  it('counts patch lines by hunk position, whatever the content looks like', async () => {
    const { ws } = await setupRun({ 'a.txt': '--- a/x\n+++ b/x\nkeep\n' });
    writeFileSync(join(ws.dir, 'a.txt'), '++ added\n+++ b/x\nkeep\n-- dash\n');
    const patch = await computePatch(ws, { runtimeRule: noRuntime });
    expect(patch.stats).toMatchObject({ insertions: 2, deletions: 1, patchLines: 3 });
  });

  it('keeps nested git repositories out of the patch and reports them', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n' });
    const withCommit = join(ws.dir, 'vendor', 'lib');
    mkdirSync(withCommit, { recursive: true });
    git(withCommit, ['init', '-q']);
    writeFileSync(join(withCommit, 'lib.js'), 'x\n');
    git(withCommit, ['add', '-A']);
    git(withCommit, ['commit', '-q', '-m', 'nested']);
    mkdirSync(join(ws.dir, 'bare-init'));
    git(join(ws.dir, 'bare-init'), ['init', '-q']);
    writeFileSync(join(ws.dir, 'b.txt'), 'b\n');

    const patch = await computePatch(ws, { runtimeRule: noRuntime });

    expect(patch.files.map((f) => f.path)).toEqual(['b.txt']);
    expect(patch.runtimeDropped.map((d) => [d.path, d.layer])).toEqual([
      ['bare-init', 'workspaces'],
      ['vendor/lib', 'workspaces'],
    ]);
    expect(patch.text).not.toContain('Subproject');
  });

  it('ignores a .git the agent plants and reports paths git refuses as .git aliases', async () => {
    const { repo, ws } = await setupRun({ 'a.txt': 'a\n' });
    writeTree(ws.dir, {
      '.git/config': '[core]\n\tfsmonitor = touch /tmp/aas-pwned\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.GIT/hooks/post-checkout': '#!/bin/sh\n',
      'git~1': 'ntfs short name\n',
      'sub/.git ': 'trailing space\n',
      'real.txt': 'a real change\n',
    });
    writeFileSync(join(ws.dir, 'a.txt'), 'changed\n');

    const patch = await computePatch(ws, { runtimeRule: noRuntime });

    expect(patch.files.map((f) => f.path).sort()).toEqual(['a.txt', 'real.txt']);
    expect(patch.runtimeDropped.map((d) => `${d.path} ${d.layer}`)).toEqual([
      '.GIT/hooks/post-checkout workspaces',
      'git~1 workspaces',
      'sub/.git  workspaces',
    ]);
    expect(patch.text).not.toMatch(/\.git\/|\.GIT/);
    const applied = applyInFreshClone(repo, ws.baseCommit, patch);
    expect(applied.get('real.txt')?.bytes.toString()).toBe('a real change\n');
  });

  it('refuses a workspace directory that was replaced by a symlink', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n' });
    const elsewhere = tempDir('aas-elsewhere-');
    writeFileSync(join(elsewhere, 'host-secret'), 'do not patch me\n');
    rmSync(ws.dir, { recursive: true });
    symlinkSync(elsewhere, ws.dir);
    const error = await computePatch(ws, { runtimeRule: noRuntime }).catch((e: unknown) => e);
    expect(isAasError(error) && error.code).toBe('INTERNAL');
    expect(isAasError(error) && error.message).toContain('no longer a plain directory');
  });

  it('reports a path that a dropped runtime path takes with it', async () => {
    const { ws } = await setupRun({ cache: 'a file that becomes a directory\n', 'a.txt': 'a\n' });
    rmSync(join(ws.dir, 'cache'));
    writeTree(ws.dir, { 'cache/inner.txt': 'inside\n' });
    const rule: RuntimeRule = (path) => (path === 'cache' ? { layer: 'job', rule: 'cache' } : null);
    const patch = await computePatch(ws, { runtimeRule: rule });
    expect(patch.files).toEqual([]);
    expect(patch.runtimeDropped.map((d) => `${d.path}:${d.layer}`)).toEqual([
      'cache:job',
      'cache/inner.txt:workspaces',
    ]);
  });

  it('carries a text file that is not UTF-8 as an exact binary patch, and quotes a non-UTF-8 path', async () => {
    const { repo, ws } = await setupRun({
      'latin1.txt': Buffer.from('caf\xe9\n', 'latin1'),
      'a.txt': 'a\n',
    });
    writeFileSync(join(ws.dir, 'latin1.txt'), Buffer.from('caf\xe9 cr\xe8me\n', 'latin1'));
    writeFileSync(Buffer.from(`${ws.dir}/odd-\xff.txt`, 'latin1'), 'odd name\n');
    writeFileSync(join(ws.dir, 'a.txt'), 'a, still text\n');

    const patch = await computePatch(ws, { runtimeRule: noRuntime });

    expect(Buffer.from(patch.text, 'utf8').toString('utf8')).toBe(patch.text);
    const latin1 = patch.files.find((f) => f.path === 'latin1.txt');
    expect(latin1).toMatchObject({ status: 'modified', binary: true });
    expect(patch.files.find((f) => f.path === 'a.txt')).toMatchObject({
      binary: false,
      insertions: 1,
      deletions: 1,
    });
    expect(patch.text).toContain('"b/odd-\\377.txt"');

    const clone = join(tempDir('aas-clone-'), 'c');
    git(join(clone, '..'), ['clone', '-q', repo, 'c']);
    writeFileSync(join(clone, '..', 'p.patch'), patch.text);
    git(clone, ['apply', join(clone, '..', 'p.patch')]);
    expect(readFileSync(join(clone, 'latin1.txt')).toString('latin1')).toBe('caf\xe9 cr\xe8me\n');
    expect(readFileSync(Buffer.from(`${clone}/odd-\xff.txt`, 'latin1')).toString()).toBe(
      'odd name\n',
    );
  });

  it('stops at maxPatchBytes with GATE_FAILED instead of buffering the whole patch', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n' });
    writeFileSync(join(ws.dir, 'big.txt'), 'x'.repeat(100).concat('\n').repeat(2000));
    const error = await computePatch(ws, { runtimeRule: noRuntime, maxPatchBytes: 10_000 }).catch(
      (e: unknown) => e,
    );
    expect(isAasError(error) && error.code).toBe('GATE_FAILED');
    expect(isAasError(error) && error.details).toMatchObject({
      maxPatchBytes: 10_000,
      filesChanged: 1,
      insertions: 2000,
    });
  });

  it('past its output cap, lists and renders separately: still GATE_FAILED with the counts', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n' });
    // ~1.2 MB of patch: more than maxPatchBytes plus the 1 MiB listing allowance.
    writeFileSync(join(ws.dir, 'big.txt'), 'y'.repeat(100).concat('\n').repeat(12_000));
    const error = await computePatch(ws, { runtimeRule: noRuntime, maxPatchBytes: 10_000 }).catch(
      (e: unknown) => e,
    );
    expect(isAasError(error) && error.code).toBe('GATE_FAILED');
    expect(isAasError(error) && error.details).toMatchObject({
      maxPatchBytes: 10_000,
      filesChanged: 1,
      insertions: 12_000,
    });
  });

  it('drops a runtime artifact too big to render, and patches the rest', async () => {
    const { repo, ws } = await setupRun({ 'a.txt': 'a\n' });
    writeTree(ws.dir, {
      'logs/huge.log': 'z'.repeat(100).concat('\n').repeat(12_000),
      'logs/small.log': 'small\n',
      'a.txt': 'changed\n',
    });
    const patch = await computePatch(ws, { runtimeRule, maxPatchBytes: 10_000 });
    expect(patch.files.map((f) => f.path)).toEqual(['a.txt']);
    expect(patch.runtimeDropped.map((d) => d.path)).toEqual(['logs/huge.log', 'logs/small.log']);
    const applied = applyInFreshClone(repo, ws.baseCommit, patch);
    expect(applied.get('a.txt')?.bytes.toString()).toBe('changed\n');
    expect(applied.has('logs/huge.log')).toBe(false);
  });

  it('honours the workspace .gitignore: an ignored new file is reported, a tracked ignored file still patches', async () => {
    const repo = tempRepo({ 'build/tracked.txt': 'tracked before the ignore rule\n' });
    writeTree(repo, { '.gitignore': 'build/\n' });
    commitAll(repo, 'ignore build/');
    const { ws } = await setupRun({}, { repo });
    writeTree(ws.dir, {
      'build/out.js': 'generated\n',
      'build/tracked.txt': 'changed\n',
      '.env': 'SECRET=1\n',
    });
    // The agent may ignore its own new files; that only hides them from the patch, and says so.
    writeFileSync(join(ws.dir, '.gitignore'), 'build/\n.env\n');
    const patch = await computePatch(ws, { runtimeRule: noRuntime });
    expect(patch.files.map((f) => f.path).sort()).toEqual(['.gitignore', 'build/tracked.txt']);
    expect([...patch.ignoredUntracked].sort()).toEqual(['.env', 'build/out.js']);
  });

  it('lists ignored files as the staged index sees them: a directory emptied of tracked files is untracked', async () => {
    const repo = tempRepo({ 'gone/tracked.txt': 'tracked\n', 'kept/tracked.txt': 'kept\n' });
    writeTree(repo, { '.gitignore': '*.ign\n' });
    commitAll(repo, 'ignore *.ign');
    const { ws } = await setupRun({}, { repo });
    rmSync(join(ws.dir, 'gone', 'tracked.txt'));
    writeTree(ws.dir, { 'gone/left.ign': 'ignored\n', 'kept/also.ign': 'ignored\n' });
    const patch = await computePatch(ws, { runtimeRule: noRuntime });
    expect(patch.files.map((f) => `${f.status} ${f.path}`)).toEqual(['deleted gone/tracked.txt']);
    expect([...patch.ignoredUntracked].sort()).toEqual(['gone/', 'gone/left.ign', 'kept/also.ign']);
  });

  it('leaves no temporary index behind and can run twice with the same answer', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n' });
    writeFileSync(join(ws.dir, 'a.txt'), 'b\n');
    const first = await computePatch(ws, { runtimeRule: noRuntime });
    const second = await computePatch(ws, { runtimeRule: noRuntime });
    expect(second.sha256).toBe(first.sha256);
    expect(existsSync(join(ws.attemptDir, 'base.index'))).toBe(true);
    expect(readdirSync(ws.attemptDir).sort()).toEqual(['base.index', 'workspace']);
  });
});
