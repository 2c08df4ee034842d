import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import {
  computePatch,
  createWorkspace,
  prepareRunGit,
  readFileAtCommit,
  removeWorkspace,
  resolveBase,
} from '../../src/workspaces/index.js';
import { commitAll, git, writeTree } from '../helpers/temp-repo.js';
import { describeTree, readTreeSnapshot } from './tree-snapshot.js';
import { baseTree, cleanupAll, setupRun, tempDir, tempRepo } from './workspace-fixture.js';

afterAll(cleanupAll);

describe('createWorkspace', () => {
  it('checks out the base as plain files with no .git, leaving the user repository untouched', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n', 'bin/run.sh': '#!/bin/sh\n' });
    chmodSync(join(repo, 'bin', 'run.sh'), 0o755);
    git(repo, ['commit', '-q', '-a', '-m', 'exec']);
    const refs = git(repo, ['for-each-ref']);
    const worktrees = git(repo, ['worktree', 'list', '--porcelain']);
    const { ws } = await setupRun({}, { repo });

    expect(existsSync(join(ws.dir, '.git'))).toBe(false);
    expect(describeTree(readTreeSnapshot(ws.dir))).toEqual(
      describeTree(baseTree(repo, ws.baseCommit)),
    );
    expect(git(repo, ['for-each-ref'])).toBe(refs);
    expect(git(repo, ['worktree', 'list', '--porcelain'])).toBe(worktrees);
    expect(git(repo, ['status', '--porcelain'])).toBe('');
    expect(readdirSync(ws.attemptDir).sort()).toEqual(['base.index', 'workspace']);
  });

  it('writes blob bytes verbatim whatever .gitattributes and the user config ask for, and never runs filters', async () => {
    const marker = join(tempDir('aas-marker-'), 'filter-ran');
    const repo = tempRepo({
      'a.txt': 'line one\nline two\n',
      'b.dat': 'id: $Id$\n',
      'c.md': 'markdown\n',
    });
    writeTree(repo, { '.gitattributes': '* text eol=crlf\n*.dat filter=evil ident\n' });
    commitAll(repo, 'attributes');
    const runDir = join(tempDir('aas-run-'), 'run_0123456789abcdef01234567');
    const runGit = await prepareRunGit({ runDir, repo });
    const base = await resolveBase(runGit, { allowDirty: false });
    // Configured after the status check: the user's own git may run the user's own filter on
    // the user's checkout, but nothing AAS does to a workspace may.
    git(repo, ['config', 'filter.evil.smudge', `sh -c 'touch ${marker}; cat'`]);
    git(repo, ['config', 'filter.evil.clean', `sh -c 'touch ${marker}; cat'`]);
    git(repo, ['config', 'filter.evil.required', 'true']);
    git(repo, ['config', 'core.autocrlf', 'true']);
    const ws = await createWorkspace(runGit, {
      baseCommit: base.baseCommit,
      attemptDir: join(runDir, 'attempt-1'),
    });

    expect(readFileSync(join(ws.dir, 'a.txt'), 'latin1')).toBe('line one\nline two\n');
    expect(readFileSync(join(ws.dir, 'b.dat'), 'latin1')).toBe('id: $Id$\n');
    expect(readFileSync(join(ws.dir, 'c.md'), 'latin1')).toBe('markdown\n');

    // The agent edits files and adds its own attributes; bytes still go into the patch as they are.
    writeFileSync(
      join(ws.dir, '.gitattributes'),
      '* filter=evil diff=evil text eol=lf working-tree-encoding=UTF-16\n',
    );
    writeFileSync(join(ws.dir, 'a.txt'), 'line one\r\nline two\r\nline three\r\n');
    writeTree(ws.dir, { 'new.dat': Buffer.from('bin\0ary\r\n$Id$\n', 'latin1') });
    const patch = await computePatch(ws, { runtimeRule: () => null });
    expect(existsSync(marker)).toBe(false);
    expect(patch.files.find((f) => f.path === 'new.dat')).toMatchObject({ binary: true });

    // Apply to a bare copy of the base through an index only (no checkout conversions) and compare blobs.
    const bare = join(tempDir('aas-bare-'), 'b.git');
    git(tempDir(), ['clone', '-q', '--bare', repo, bare]);
    const patchFile = join(tempDir(), 'p.patch');
    writeFileSync(patchFile, patch.text);
    const index = join(tempDir(), 'index');
    const env = {
      ...process.env,
      GIT_INDEX_FILE: index,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
    };
    const run = (args: string[]) => execFileSync('git', ['--git-dir', bare, ...args], { env });
    run(['read-tree', ws.baseCommit]);
    run(['apply', '--cached', patchFile]);
    for (const path of ['a.txt', 'new.dat', '.gitattributes']) {
      expect(run(['cat-file', 'blob', `:${path}`]).equals(readFileSync(join(ws.dir, path)))).toBe(
        true,
      );
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a commit the run cannot see', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const runGit = await prepareRunGit({
      runDir: join(tempDir(), 'run_0123456789abcdef01234567'),
      repo,
    });
    for (const bad of ['0'.repeat(40), '--help', 'HEAD']) {
      const error = await createWorkspace(runGit, {
        baseCommit: bad,
        attemptDir: join(tempDir(), 'attempt-1'),
      }).catch((e: unknown) => e);
      expect(isAasError(error) && error.code, bad).toBe('BASE_REF_UNKNOWN');
    }
  });

  it('still says BASE_REF_UNKNOWN when the resolved base has since been pruned', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    writeTree(repo, { 'a.txt': 'doomed\n' });
    const doomed = commitAll(repo, 'doomed');
    const runDir = join(tempDir('aas-run-'), 'run_0123456789abcdef01234567');
    const runGit = await prepareRunGit({ runDir, repo });
    const base = await resolveBase(runGit, { allowDirty: false });
    expect(base.baseCommit).toBe(doomed);
    git(repo, ['reset', '-q', '--hard', 'HEAD~1']);
    git(repo, ['reflog', 'expire', '--expire=now', '--all']);
    git(repo, ['gc', '-q', '--prune=now']);
    const error = await createWorkspace(runGit, {
      baseCommit: base.baseCommit,
      attemptDir: join(runDir, 'attempt-1'),
    }).catch((e: unknown) => e);
    expect(isAasError(error) && error.code).toBe('BASE_REF_UNKNOWN');
    expect(existsSync(join(runDir, 'attempt-1', 'workspace'))).toBe(false);
  });

  it('replaces a leftover workspace of a crashed try of the same attempt', async () => {
    const { git: runGit, ws } = await setupRun({ 'a.txt': 'a\n' });
    writeFileSync(join(ws.dir, 'junk.txt'), 'left behind\n');
    const again = await createWorkspace(runGit, {
      baseCommit: ws.baseCommit,
      attemptDir: ws.attemptDir,
    });
    expect(readdirSync(again.dir)).toEqual(['a.txt']);
  });

  it('checks out a submodule entry as an empty directory and does not report it as changed', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const head = git(repo, ['rev-parse', 'HEAD']).trim();
    git(repo, ['update-index', '--add', '--cacheinfo', `160000,${head},vendor/sub`]);
    git(repo, ['commit', '-q', '-m', 'submodule entry']);
    mkdirSync(join(repo, 'vendor', 'sub'), { recursive: true });
    const { ws } = await setupRun({}, { repo });
    expect(readdirSync(join(ws.dir, 'vendor', 'sub'))).toEqual([]);
    const patch = await computePatch(ws, { runtimeRule: () => null });
    expect(patch.files).toEqual([]);
  });

  it('removeWorkspace deletes files and indexes, even read-only ones, and keeps the attempt directory', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n', 'd/b.txt': 'b\n' });
    writeFileSync(join(ws.attemptDir, 'stdout.log'), 'agent output\n');
    chmodSync(join(ws.dir, 'd'), 0o500);
    chmodSync(ws.dir, 0o500);
    await removeWorkspace(ws);
    expect(readdirSync(ws.attemptDir)).toEqual(['stdout.log']);
    await removeWorkspace(ws);
  });
});

describe('readFileAtCommit', () => {
  it('reads the committed bytes, never the workspace copy', async () => {
    const {
      git: runGit,
      ws,
      repo,
    } = await setupRun({ '.aas/policy.yaml': 'paths:\n  deny: ["secrets/**"]\n', 'dir/x': 'x' });
    writeFileSync(join(ws.dir, '.aas', 'policy.yaml'), 'paths:\n  allow: ["**"]\n');
    expect((await readFileAtCommit(runGit, ws.baseCommit, '.aas/policy.yaml'))?.toString()).toBe(
      'paths:\n  deny: ["secrets/**"]\n',
    );
    expect((await readFileAtCommit(repo, ws.baseCommit, '.aas/policy.yaml'))?.toString()).toBe(
      'paths:\n  deny: ["secrets/**"]\n',
    );
    expect(await readFileAtCommit(runGit, ws.baseCommit, '.aas/missing.yaml')).toBeNull();
    expect(await readFileAtCommit(runGit, ws.baseCommit, 'dir/x/deeper')).toBeNull();
  });

  it('refuses directories, symlinks, unknown commits and paths that are not normalised', async () => {
    const repo = tempRepo({ 'dir/x': 'x', 'target.yaml': 'real\n' });
    symlinkSync('target.yaml', join(repo, 'link.yaml'));
    git(repo, ['add', '-A']);
    git(repo, ['commit', '-q', '-m', 'link']);
    const { git: runGit, ws } = await setupRun({}, { repo });
    const code = (promise: Promise<unknown>) =>
      promise.then(
        () => 'resolved',
        (e: unknown) => (isAasError(e) ? e.code : 'other'),
      );
    expect(await code(readFileAtCommit(runGit, ws.baseCommit, 'dir'))).toBe('INVALID_ARGUMENT');
    expect(await code(readFileAtCommit(runGit, ws.baseCommit, 'link.yaml'))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await code(readFileAtCommit(runGit, '0'.repeat(40), 'dir/x'))).toBe('BASE_REF_UNKNOWN');
    const tree = git(repo, ['rev-parse', `${ws.baseCommit}^{tree}`]).trim();
    expect(await code(readFileAtCommit(runGit, tree, 'dir/x'))).toBe('BASE_REF_UNKNOWN');
    expect(await code(readFileAtCommit(repo, `${ws.baseCommit}:dir`, 'x'))).toBe(
      'BASE_REF_UNKNOWN',
    );
    for (const bad of ['../x', '/etc/passwd', 'dir/../x', './dir/x', 'dir//x', '']) {
      expect(await code(readFileAtCommit(runGit, ws.baseCommit, bad)), bad).toBe(
        'INVALID_ARGUMENT',
      );
    }
  });

  it('reads through tags, refs and odd paths, top level or nested, executable or not', async () => {
    const odd = 'we:ird/na me {x}/line\nbreak.txt';
    const repo = tempRepo({
      'top.txt': 'top\n',
      'bin/run.sh': '#!/bin/sh\n',
      [odd]: 'odd\n',
      'sp ace/f.txt': 'spaced\n',
    });
    chmodSync(join(repo, 'bin', 'run.sh'), 0o755);
    const head = commitAll(repo, 'exec');
    git(repo, ['tag', '-a', '-m', 'annotated', 'v1']);
    const tagObject = git(repo, ['rev-parse', 'v1']).trim();
    expect(tagObject).not.toBe(head);
    const { git: runGit } = await setupRun({}, { repo });
    for (const commit of [head, tagObject]) {
      expect((await readFileAtCommit(runGit, commit, 'top.txt'))?.toString()).toBe('top\n');
      expect((await readFileAtCommit(runGit, commit, 'bin/run.sh'))?.toString()).toBe(
        '#!/bin/sh\n',
      );
      expect((await readFileAtCommit(runGit, commit, odd))?.toString()).toBe('odd\n');
      expect((await readFileAtCommit(runGit, commit, 'sp ace/f.txt'))?.toString()).toBe('spaced\n');
      expect(await readFileAtCommit(runGit, commit, 'no/such/dir.txt')).toBeNull();
      expect(await readFileAtCommit(runGit, commit, 'top.txt/below')).toBeNull();
    }
    for (const ref of ['v1', 'main', 'HEAD', head.slice(0, 12)]) {
      expect((await readFileAtCommit(repo, ref, 'sp ace/f.txt'))?.toString(), ref).toBe('spaced\n');
    }
  });
});
