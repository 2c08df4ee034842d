import { createHash } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AasError, isAasError } from '../../src/kernel/index.js';
import {
  createWorkspace,
  prepareRunGit,
  readFileAtCommit,
  resolveBase,
} from '../../src/workspaces/index.js';
import { commitAll, git, headCommit, writeTree } from '../helpers/temp-repo.js';
import { cleanupAll, tempDir, tempRepo } from './workspace-fixture.js';

afterAll(cleanupAll);

async function rejection(promise: Promise<unknown>): Promise<AasError> {
  const thrown = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  if (!isAasError(thrown)) throw new Error(`expected an AasError, got ${String(thrown)}`);
  return thrown;
}

function runDir(): string {
  return join(tempDir('aas-run-'), 'run_0123456789abcdef01234567');
}

/**
 * Name, size, content and mtime of every file under `.git`: any write by AAS would show. Object
 * mtimes are left out: when git is asked to store an object that already exists (here, in the
 * borrowed user object store) it refreshes that file's mtime instead, its guard against a
 * concurrent prune; the object set and every byte stay the same.
 */
function fingerprintGitDir(repo: string): string {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const info = statSync(full);
      const mtime = full.includes('/.git/objects/') ? '' : String(info.mtimeMs);
      if (info.isDirectory()) walk(full);
      else
        lines.push(
          `${full} ${info.size} ${mtime} ${createHash('sha256').update(readFileSync(full)).digest('hex')}`,
        );
    }
  };
  walk(join(repo, '.git'));
  return lines.join('\n');
}

describe('prepareRunGit and resolveBase', () => {
  it('resolves HEAD of a clean checkout, from any directory inside it', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n', 'sub/dir/b.txt': 'b\n' });
    const runGit = await prepareRunGit({ runDir: runDir(), repo: join(repo, 'sub', 'dir') });
    const base = await resolveBase(runGit, { allowDirty: false });
    expect(base).toEqual({
      repoRoot: runGit.repoRoot,
      baseRef: 'HEAD',
      baseCommit: headCommit(repo),
      dirty: false,
      dirtyPaths: [],
      snapshot: false,
    });
    expect(runGit.repoRoot).toBe(realpathSync(repo));
  });

  it('resolves branches, tags and shas, and names branches when the ref is unknown', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const first = headCommit(repo);
    git(repo, ['tag', 'v1']);
    git(repo, ['branch', 'feature/x']);
    writeTree(repo, { 'a.txt': 'a2\n' });
    const second = commitAll(repo, 'second');
    const runGit = await prepareRunGit({ runDir: runDir(), repo });
    expect((await resolveBase(runGit, { baseRef: 'v1', allowDirty: false })).baseCommit).toBe(
      first,
    );
    expect(
      (await resolveBase(runGit, { baseRef: 'feature/x', allowDirty: false })).baseCommit,
    ).toBe(first);
    expect(
      (await resolveBase(runGit, { baseRef: first.slice(0, 10), allowDirty: false })).baseCommit,
    ).toBe(first);
    expect((await resolveBase(runGit, { baseRef: 'main', allowDirty: false })).baseCommit).toBe(
      second,
    );

    for (const bad of ['nope', '--output=/tmp/x', 'HEAD:a.txt', '']) {
      const error = await rejection(resolveBase(runGit, { baseRef: bad, allowDirty: false }));
      expect(error.code).toBe('BASE_REF_UNKNOWN');
      expect(error.details.field).toBe('baseRef');
      expect(error.details.hint).toContain('feature/x');
      expect(error.details.hint).toContain('main');
    }
  });

  it('says when a repository has no commits yet', async () => {
    const repo = tempDir('aas-empty-');
    git(repo, ['init', '-q']);
    const error = await rejection(
      resolveBase(await prepareRunGit({ runDir: runDir(), repo }), { allowDirty: false }),
    );
    expect(error.code).toBe('BASE_REF_UNKNOWN');
    expect(error.details.hint).toContain('no commits');
  });

  it('refuses missing paths, plain directories, files and bare repositories', async () => {
    const missing = await rejection(
      prepareRunGit({ runDir: runDir(), repo: '/nonexistent/aas/repo' }),
    );
    expect(missing.code).toBe('REPO_NOT_FOUND');
    expect(missing.details.field).toBe('repo');
    expect(missing.message).toContain('/nonexistent/aas/repo');

    const plain = tempDir('aas-plain-');
    const notGit = await rejection(prepareRunGit({ runDir: runDir(), repo: plain }));
    expect(notGit.code).toBe('REPO_NOT_GIT');
    expect(notGit.message).toContain('not a git repository');

    writeFileSync(join(plain, 'file'), 'x');
    expect(
      (await rejection(prepareRunGit({ runDir: runDir(), repo: join(plain, 'file') }))).code,
    ).toBe('REPO_NOT_GIT');

    const bare = join(tempDir('aas-bare-'), 'bare.git');
    git(tempDir(), ['init', '-q', '--bare', bare]);
    const bareError = await rejection(prepareRunGit({ runDir: runDir(), repo: bare }));
    expect(bareError.code).toBe('REPO_NOT_GIT');
    expect(bareError.message).toContain('bare');
  });

  it.skipIf(process.getuid?.() !== 0)(
    "says that a repository of another user is git's refusal, and how to settle it",
    async () => {
      const repo = tempRepo({ 'a.txt': 'a\n' });
      chownSync(repo, 65534, 65534);
      const error = await rejection(prepareRunGit({ runDir: runDir(), repo }));
      expect(error.code).toBe('REPO_NOT_GIT');
      expect(error.message).toContain('belongs to another user');
      expect(error.details.hint).toContain('safe.directory');
    },
  );

  it('refuses a dirty checkout with BASE_DIRTY naming the paths and the way out', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n', '.gitignore': 'ignored/\n' });
    const runGit = await prepareRunGit({ runDir: runDir(), repo });
    writeTree(repo, { 'ignored/x.log': 'not dirt\n' });
    expect((await resolveBase(runGit, { allowDirty: false })).dirty).toBe(false);

    writeTree(repo, { 'a.txt': 'modified\n', 'new.txt': 'untracked\n', 'c.txt': 'staged\n' });
    git(repo, ['add', 'c.txt']);
    const error = await rejection(resolveBase(runGit, { allowDirty: false }));
    expect(error.code).toBe('BASE_DIRTY');
    expect(error.details.field).toBe('repo');
    expect(error.message).toContain('a.txt, c.txt, new.txt');
    expect(error.details.hint).toContain('--allow-dirty-base');
    expect(error.details.hint).toContain('stash');

    writeTree(
      repo,
      Object.fromEntries(
        Array.from({ length: 15 }, (_, i) => [`many/f${String(i).padStart(2, '0')}.txt`, 'x']),
      ),
    );
    const many = await rejection(resolveBase(runGit, { allowDirty: false }));
    expect(many.message).toContain('and 8 more');
  });

  it('ignores the working tree when the base is another commit', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const first = headCommit(repo);
    writeTree(repo, { 'a.txt': 'a2\n' });
    commitAll(repo, 'second');
    writeTree(repo, { 'a.txt': 'dirty\n' });
    const base = await resolveBase(await prepareRunGit({ runDir: runDir(), repo }), {
      baseRef: first,
      allowDirty: false,
    });
    expect(base).toMatchObject({ baseCommit: first, dirty: false, snapshot: false });
  });

  it('with allowDirty, snapshots the dirty tree into a commit without writing to the user repository', async () => {
    const repo = tempRepo({
      'a.txt': 'a\n',
      'gone.txt': 'to delete\n',
      'keep.txt': 'keep\n',
      '.gitignore': '*.log\n',
    });
    const head = headCommit(repo);
    writeTree(repo, {
      'a.txt': 'modified\n',
      'new dir/new.txt': 'untracked\n',
      'staged.txt': 'staged\n',
      'debug.log': 'ignored\n',
    });
    git(repo, ['add', 'staged.txt']);
    rmSync(join(repo, 'gone.txt'));
    const before = fingerprintGitDir(repo);
    const objectsBefore = git(repo, ['count-objects', '-v']);
    const refsBefore = git(repo, ['for-each-ref']);

    const dir = runDir();
    const runGit = await prepareRunGit({ runDir: dir, repo });
    const base = await resolveBase(runGit, { allowDirty: true });

    expect(base).toMatchObject({
      dirty: true,
      snapshot: true,
      dirtyPaths: ['a.txt', 'gone.txt', 'new dir/new.txt', 'staged.txt'],
    });
    expect(base.baseCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(base.baseCommit).not.toBe(head);
    expect(fingerprintGitDir(repo)).toBe(before);
    expect(git(repo, ['count-objects', '-v'])).toBe(objectsBefore);
    expect(git(repo, ['for-each-ref'])).toBe(refsBefore);
    expect(() => git(repo, ['cat-file', '-e', base.baseCommit])).toThrow();

    // A real commit in the private git dir: parent HEAD, fixed identity, the dirty tree.
    const inRun = (args: string[]) => git(dir, ['--git-dir', runGit.gitDir, ...args]);
    expect(inRun(['log', '-1', '--format=%P|%an <%ae>', base.baseCommit]).trim()).toBe(
      `${head}|AAS snapshot <aas@localhost>`,
    );
    expect(inRun(['ls-tree', '-r', '--name-only', base.baseCommit]).trim().split('\n')).toEqual([
      '.gitignore',
      'a.txt',
      'keep.txt',
      'new dir/new.txt',
      'staged.txt',
    ]);
    expect((await readFileAtCommit(runGit, base.baseCommit, 'a.txt'))?.toString()).toBe(
      'modified\n',
    );

    // The workspace is built from the snapshot; the same dirty state gives the same commit.
    const ws = await createWorkspace(runGit, {
      baseCommit: base.baseCommit,
      attemptDir: join(dir, 'attempt-1'),
    });
    expect(readFileSync(join(ws.dir, 'new dir', 'new.txt'), 'utf8')).toBe('untracked\n');
    expect(readdirSync(ws.dir).sort()).toEqual([
      '.gitignore',
      'a.txt',
      'keep.txt',
      'new dir',
      'staged.txt',
    ]);
    expect((await resolveBase(runGit, { allowDirty: true })).baseCommit).toBe(base.baseCommit);
    expect(fingerprintGitDir(repo)).toBe(before);
  });

  it('snapshots a file replaced by a directory, and a staged-then-deleted new file', async () => {
    const repo = tempRepo({ thing: 'a file\n', 'a.txt': 'a\n' });
    rmSync(join(repo, 'thing'));
    writeTree(repo, { 'thing/inner.txt': 'now a directory\n', 'temp.txt': 'staged\n' });
    git(repo, ['add', 'temp.txt']);
    rmSync(join(repo, 'temp.txt'));
    const dir = runDir();
    const runGit = await prepareRunGit({ runDir: dir, repo });
    const base = await resolveBase(runGit, { allowDirty: true });
    expect(base.dirtyPaths).toEqual(['temp.txt', 'thing', 'thing/inner.txt']);
    const tree = git(dir, [
      '--git-dir',
      runGit.gitDir,
      'ls-tree',
      '-r',
      '--name-only',
      base.baseCommit,
    ]);
    expect(tree.trim().split('\n')).toEqual(['a.txt', 'thing/inner.txt']);
  });

  it('prepareRunGit can be called again for the same run (restart) and keeps snapshot objects', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    writeTree(repo, { 'a.txt': 'dirty\n' });
    const dir = runDir();
    const base = await resolveBase(await prepareRunGit({ runDir: dir, repo }), {
      allowDirty: true,
    });
    const again = await prepareRunGit({ runDir: dir, repo });
    expect((await readFileAtCommit(again, base.baseCommit, 'a.txt'))?.toString()).toBe('dirty\n');
  });
});

describe('prepareRunGit and resolveBase, one git start at a time', () => {
  it('writes a private git dir git takes as one, with nothing it does not need', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const dir = runDir();
    const runGit = await prepareRunGit({ runDir: dir, repo });
    const inRun = (args: string[], input?: string) =>
      git(tempDir(), ['--git-dir', runGit.gitDir, ...args], input).trim();
    expect(inRun(['rev-parse', '--is-bare-repository'])).toBe('true');
    expect(inRun(['symbolic-ref', 'HEAD'])).toBe('refs/heads/master');
    expect(inRun(['cat-file', '-t', headCommit(repo)])).toBe('commit');
    expect(inRun(['check-attr', '-a', 'x.txt'])).toContain('text: unset');
    // Objects written here create their own fan-out directories; nothing reaches the user's store.
    const blob = inRun(['hash-object', '-w', '--stdin'], 'only in the run\n');
    expect(existsSync(join(runGit.gitDir, 'objects', blob.slice(0, 2), blob.slice(2)))).toBe(true);
    expect(() => git(repo, ['cat-file', '-e', blob])).toThrow();
    expect(inRun(['fsck', '--no-dangling', '--connectivity-only'])).toBe('');

    // A reused dir keeps its objects and HEAD, and gets its config and excludes back.
    writeFileSync(join(runGit.gitDir, 'info', 'exclude'), '*\n');
    writeFileSync(join(runGit.gitDir, 'config'), '[core]\n\tbare = false\n');
    await prepareRunGit({ runDir: dir, repo });
    expect(existsSync(join(runGit.gitDir, 'info', 'exclude'))).toBe(false);
    expect(inRun(['rev-parse', '--is-bare-repository'])).toBe('true');
    expect(inRun(['cat-file', '-t', blob])).toBe('blob');
  });

  it('locates a linked worktree: its own git dir, the shared object store', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const linked = join(tempDir('aas-linked-'), 'wt');
    git(repo, ['worktree', 'add', '-q', '--detach', linked]);
    const runGit = await prepareRunGit({ runDir: runDir(), repo: linked });
    expect(runGit.repoRoot).toBe(realpathSync(linked));
    expect(runGit.repoGitDir).toBe(realpathSync(join(repo, '.git', 'worktrees', 'wt')));
    expect(runGit.repoObjectsDir).toBe(realpathSync(join(repo, '.git', 'objects')));
    expect((await resolveBase(runGit, { allowDirty: false })).baseCommit).toBe(headCommit(repo));
  });

  it('reads conflicts and odd names from status, and snapshots them', async () => {
    const repo = tempRepo({ 'a.txt': 'base\n', 'b.txt': 'b\n' });
    git(repo, ['checkout', '-q', '-b', 'other']);
    writeTree(repo, { 'a.txt': 'other\n' });
    commitAll(repo, 'other');
    git(repo, ['checkout', '-q', 'main']);
    writeTree(repo, { 'a.txt': 'main\n' });
    commitAll(repo, 'main');
    expect(() => git(repo, ['merge', '-q', 'other'])).toThrow();
    const odd = 'odd name\nwith a line break .txt';
    writeTree(repo, { [odd]: 'odd\n', 'b.txt': 'b changed\n', 'dir/x y.txt': 'spaced\n' });
    const runGit = await prepareRunGit({ runDir: runDir(), repo });
    const error = await rejection(resolveBase(runGit, { allowDirty: false }));
    expect(error.code).toBe('BASE_DIRTY');
    expect(error.details.dirtyPaths).toEqual(['a.txt', 'b.txt', 'dir/x y.txt', odd]);
    writeTree(repo, { 'a.txt': 'resolved\n' });
    git(repo, ['add', 'a.txt']);
    const base = await resolveBase(runGit, { allowDirty: true });
    expect((await readFileAtCommit(runGit, base.baseCommit, odd))?.toString()).toBe('odd\n');
    expect((await readFileAtCommit(runGit, base.baseCommit, 'dir/x y.txt'))?.toString()).toBe(
      'spaced\n',
    );
  });

  it('checks the working tree when a named ref is the checked-out commit', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    git(repo, ['tag', '-a', '-m', 'annotated', 'v1']);
    writeTree(repo, { 'a.txt': 'dirty\n' });
    const runGit = await prepareRunGit({ runDir: runDir(), repo });
    for (const baseRef of ['main', 'v1', headCommit(repo)]) {
      const error = await rejection(resolveBase(runGit, { baseRef, allowDirty: false }));
      expect(error.code, baseRef).toBe('BASE_DIRTY');
    }
    const base = await resolveBase(runGit, { baseRef: 'v1', allowDirty: true });
    expect(base).toMatchObject({ baseRef: 'v1', snapshot: true, dirtyPaths: ['a.txt'] });
  });

  it('takes nothing that merely looks like a batch answer for a commit', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const head = headCommit(repo);
    const runGit = await prepareRunGit({ runDir: runDir(), repo });
    for (const baseRef of [`${head} commit 1`, `${head}\n`, `${head}^{tree}`, 'HEAD\r']) {
      const error = await rejection(resolveBase(runGit, { baseRef, allowDirty: false }));
      expect(error.code, baseRef).toBe('BASE_REF_UNKNOWN');
    }
  });

  it('reports a detached HEAD that names a missing object as an unknown base', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    writeFileSync(join(repo, '.git', 'HEAD'), `${'1'.repeat(40)}\n`);
    const runGit = await prepareRunGit({ runDir: runDir(), repo });
    const error = await rejection(resolveBase(runGit, { allowDirty: false }));
    expect(error.code).toBe('BASE_REF_UNKNOWN');
    expect(error.details.hint).toContain('main');
  });
});

describe('resolveBase with the AAS data directory inside the repository', () => {
  const RUN_ID = 'run_0123456789abcdef01234567';

  /**
   * A committed checkout used the way `cd repo && aas run --repo .` uses it: the home is
   * `<repo>/.aas`, holding the database and the run's own dir (with its private git dir).
   */
  async function repoWithHomeInside(files: Record<string, string> = { 'a.txt': 'a\n' }) {
    const repo = tempRepo(files);
    const home = join(repo, '.aas');
    writeTree(repo, {
      '.aas/aas.db': 'SQLite format 3\0',
      '.aas/aas.db-wal': 'wal',
      '.aas/artifacts/run_x/patch.diff': 'diff\n',
      '.aas/runs/run_old/attempt-1/workspace/a.txt': 'an old workspace\n',
    });
    const runGit = await prepareRunGit({ runDir: join(home, 'runs', RUN_ID), repo });
    return { repo, home, runGit };
  }

  function snapshotFiles(runGit: { gitDir: string }, commit: string): string[] {
    return git(tempDir(), ['--git-dir', runGit.gitDir, 'ls-tree', '-r', '--name-only', commit])
      .trim()
      .split('\n');
  }

  it('does not count the home as dirt: the database and run dirs are not the user’s changes', async () => {
    const { repo, home, runGit } = await repoWithHomeInside();
    // Without the exclusion, AAS's own files are what make the checkout dirty.
    const without = await rejection(resolveBase(runGit, { allowDirty: false }));
    expect(without.code).toBe('BASE_DIRTY');
    expect(without.message).toContain('.aas/aas.db');
    expect(without.message).toContain(`.aas/runs/${RUN_ID}/git/`);

    const base = await resolveBase(runGit, { allowDirty: false, excludePaths: [home] });
    expect(base).toEqual({
      repoRoot: runGit.repoRoot,
      baseRef: 'HEAD',
      baseCommit: headCommit(repo),
      dirty: false,
      dirtyPaths: [],
      snapshot: false,
    });
    // A trailing slash or a path that is not normalised names the same directory.
    expect(
      (await resolveBase(runGit, { allowDirty: false, excludePaths: [`${repo}/./.aas/`] })).dirty,
    ).toBe(false);
  });

  it('with allowDirty, snapshots the real changes and nothing of the home', async () => {
    const { repo, home, runGit } = await repoWithHomeInside({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    writeTree(repo, { 'a.txt': 'real change\n', 'new.txt': 'new\n', '.aas-notes.txt': 'mine\n' });
    const base = await resolveBase(runGit, { allowDirty: true, excludePaths: [home] });
    expect(base).toMatchObject({
      dirty: true,
      snapshot: true,
      // `.aas-notes.txt` only shares a prefix with the home's name: it is the user's.
      dirtyPaths: ['.aas-notes.txt', 'a.txt', 'new.txt'],
    });
    expect(snapshotFiles(runGit, base.baseCommit)).toEqual([
      '.aas-notes.txt',
      'a.txt',
      'b.txt',
      'new.txt',
    ]);
    expect((await readFileAtCommit(runGit, base.baseCommit, 'a.txt'))?.toString()).toBe(
      'real change\n',
    );
    const ws = await createWorkspace(runGit, {
      baseCommit: base.baseCommit,
      attemptDir: join(home, 'runs', RUN_ID, 'attempt-1'),
    });
    expect(readdirSync(ws.dir).sort()).toEqual(['.aas-notes.txt', 'a.txt', 'b.txt', 'new.txt']);
    // The new workspace is itself inside the home: the next resolution still sees the same base.
    expect((await resolveBase(runGit, { allowDirty: true, excludePaths: [home] })).baseCommit).toBe(
      base.baseCommit,
    );
  });

  it('still counts tracked files inside the home, such as the repository policy', async () => {
    const { repo, home, runGit } = await repoWithHomeInside({
      'a.txt': 'a\n',
      '.aas/policy.yaml': 'version: 1\n',
    });
    writeTree(repo, { '.aas/policy.yaml': 'version: 1\n# edited\n' });
    const error = await rejection(resolveBase(runGit, { allowDirty: false, excludePaths: [home] }));
    expect(error.code).toBe('BASE_DIRTY');
    expect(error.details.dirtyPaths).toEqual(['.aas/policy.yaml']);
    expect(error.details.hint).toContain('tracked inside the AAS data directory: .aas/policy.yaml');

    const base = await resolveBase(runGit, { allowDirty: true, excludePaths: [home] });
    expect(base.dirtyPaths).toEqual(['.aas/policy.yaml']);
    expect(snapshotFiles(runGit, base.baseCommit)).toEqual(['.aas/policy.yaml', 'a.txt']);
    expect((await readFileAtCommit(runGit, base.baseCommit, '.aas/policy.yaml'))?.toString()).toBe(
      'version: 1\n# edited\n',
    );
  });

  it('matches a home named through a symlink, deeper in the tree, or not created yet', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    const link = join(tempDir('aas-link-'), 'checkout');
    symlinkSync(repo, link);
    writeTree(repo, {
      'tools/aas home/aas.db': 'db',
      'tools/aas home/runs/r/x': 'x',
      'tools/other.txt': 'user file\n',
    });
    const runGit = await prepareRunGit({ runDir: runDir(), repo: link });
    const base = await resolveBase(runGit, {
      allowDirty: true,
      excludePaths: [join(link, 'tools', 'aas home'), join(link, 'not', 'created', 'yet')],
    });
    expect(base.dirtyPaths).toEqual(['tools/other.txt']);
    expect(snapshotFiles(runGit, base.baseCommit)).toEqual(['a.txt', 'tools/other.txt']);
  });

  it('takes a home name literally, not as a glob', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    writeTree(repo, { 'h*/aas.db': 'db', 'hx/user.txt': 'user\n' });
    const runGit = await prepareRunGit({ runDir: runDir(), repo });
    const error = await rejection(
      resolveBase(runGit, { allowDirty: false, excludePaths: [join(repo, 'h*')] }),
    );
    expect(error.details.dirtyPaths).toEqual(['hx/user.txt']);
  });

  it('changes nothing for a home outside the repository or at its root', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n' });
    writeTree(repo, { '.aas/aas.db': 'db', 'b.txt': 'b\n' });
    const outside = tempDir('aas-home-');
    mkdirSync(join(outside, 'runs'));
    const runGit = await prepareRunGit({ runDir: join(outside, 'runs', RUN_ID), repo });
    for (const excludePaths of [[], [outside], [repo], [join(repo, '..')]]) {
      const error = await rejection(resolveBase(runGit, { allowDirty: false, excludePaths }));
      expect(error.details.dirtyPaths).toEqual(['.aas/aas.db', 'b.txt']);
      const base = await resolveBase(runGit, { allowDirty: true, excludePaths });
      expect(snapshotFiles(runGit, base.baseCommit)).toEqual(['.aas/aas.db', 'a.txt', 'b.txt']);
    }
    expect(
      (await rejection(resolveBase(runGit, { allowDirty: false, excludePaths: ['.aas'] }))).code,
    ).toBe('INVALID_ARGUMENT');
  });
});
