import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import {
  checkPatchApplies,
  collectCheckoutCache,
  collectOrphanWorkspaces,
  computePatch,
  createWorkspace,
  prepareRunGit,
  type RuntimeRule,
  removeWorkspace,
  resolveBase,
  type Workspace,
} from '../../src/workspaces/index.js';
import { commitAll, git, writeTree } from '../helpers/temp-repo.js';
import {
  isMounted,
  overlaySuiteName,
  overlaySupport,
  setupTwins,
  unmountTestMounts,
} from './overlay-fixture.js';
import { describeTree, joinPath, readTreeSnapshot } from './tree-snapshot.js';
import {
  applyInFreshClone,
  baseTree,
  cleanupAll,
  expectedTree,
  tempDir,
  tempRepo,
} from './workspace-fixture.js';

afterAll(() => {
  unmountTestMounts();
  cleanupAll();
});

const skip = !overlaySupport.overlay;

const runtimeRule: RuntimeRule = (path) =>
  path.startsWith('logs/') ? { layer: 'repo', rule: 'logs/**' } : null;

const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02, 0xff, 0xfe, 0x00]);

const BASE: Record<string, string | Buffer> = {
  'README.md': '# demo\n',
  '.gitignore': '*.tmp\n.cache/\nbuild/\n',
  'a.txt': 'alpha\nbeta\ngamma\n',
  'same-size.txt': 'aaaa\n',
  'src/keep.ts': 'export const keep = 1;\n',
  'src/lib/one.ts': 'export const one = 1;\n',
  'src/lib/two.ts': 'export const two = 2;\n',
  'src/lib/deep/three.ts': 'export const three = 3;\n',
  'docs/guide.md': 'guide\n',
  'docs/api/ref.md': 'reference\n',
  'gone/only.txt': 'the only tracked file here\n',
  'nest/x/gone/a.txt': 'a\n',
  'nest/x/gone/b.txt': 'b\n',
  'nest/x/stays.txt': 'stays\n',
  'bin/tool.sh': '#!/bin/sh\necho tool\n',
  'assets/logo.bin': binary,
  'became-dir': 'a file that becomes a directory\n',
  'became-file/inner.txt': 'a directory that becomes a file\n',
  'rename-me.txt': 'identical content\nacross the rename\n',
  'build/tracked.txt': 'tracked although build/ is ignored\n',
  'logs/keep.log': 'tracked log\n',
  'latin1.txt': Buffer.from('caf\xe9\n', 'latin1'),
  'star*.txt': 'a name that is a glob\n',
};

type Edit = (dir: string) => void;
const at = (dir: string, rel: string) => joinPath(dir, rel);

/** One change each: the overlay patch must equal the worktree patch of the same edit, byte for byte. */
const CHANGES: readonly (readonly [string, Edit])[] = [
  ['nothing', () => {}],
  ['modify a file', (d) => writeFileSync(at(d, 'a.txt'), 'alpha\nBETA\ngamma\n')],
  [
    'append to a nested file',
    (d) => writeFileSync(at(d, 'src/lib/deep/three.ts'), '//\n', { flag: 'a' }),
  ],
  [
    'add files in new directories',
    (d) => writeTree(d, { 'new/deep/dir/file.ts': 'new\n', 'top.txt': 'top\n' }),
  ],
  ['delete a file', (d) => rmSync(at(d, 'src/keep.ts'), { force: true })],
  ['delete a whole directory', (d) => rmSync(at(d, 'src/lib'), { recursive: true, force: true })],
  [
    'remove and re-create a directory with some of its files (opaque)',
    (d) => {
      rmSync(at(d, 'src/lib'), { recursive: true, force: true });
      writeTree(d, { 'src/lib/one.ts': 'export const one = 1;\n', 'src/lib/new.ts': 'new\n' });
    },
  ],
  [
    'remove and re-create a directory with every name, different content below (opaque)',
    (d) => {
      rmSync(at(d, 'docs'), { recursive: true, force: true });
      writeTree(d, { 'docs/guide.md': 'guide\n', 'docs/api/other.md': 'other\n' });
    },
  ],
  ['rename a file', (d) => renameSync(at(d, 'rename-me.txt'), at(d, 'src/renamed.txt'))],
  ['chmod +x', (d) => chmodSync(at(d, 'bin/tool.sh'), 0o755)],
  [
    'chmod without a content change, then back',
    (d) => {
      chmodSync(at(d, 'a.txt'), 0o755);
      chmodSync(at(d, 'a.txt'), 0o644);
    },
  ],
  [
    'rewrite a file with the same bytes',
    (d) => writeFileSync(at(d, 'a.txt'), 'alpha\nbeta\ngamma\n'),
  ],
  ['add a symlink', (d) => symlinkSync('../README.md', at(d, 'src/readme-link'))],
  [
    'retarget a symlink',
    (d) => {
      symlinkSync('a.txt', at(d, 'link'));
    },
  ],
  [
    'modify a binary file',
    (d) => writeFileSync(at(d, 'assets/logo.bin'), Buffer.concat([binary, Buffer.from([0, 0x42])])),
  ],
  [
    'add a binary file',
    (d) => writeFileSync(at(d, 'assets/new.bin'), Buffer.from([0, 1, 2, 0xc3, 0x28])),
  ],
  [
    'file becomes a directory',
    (d) => {
      rmSync(at(d, 'became-dir'));
      writeTree(d, { 'became-dir/inner.txt': 'inside\n' });
    },
  ],
  [
    'directory becomes a file',
    (d) => {
      rmSync(at(d, 'became-file'), { recursive: true });
      writeFileSync(at(d, 'became-file'), 'now a file\n');
    },
  ],
  [
    'gitignored new files are reported, not patched',
    (d) => writeTree(d, { 'scratch.tmp': 'x\n', '.cache/blob': 'y\n', 'src/lib/also.tmp': 'z\n' }),
  ],
  [
    'a tracked file in an ignored directory changes, an ignored file joins it',
    (d) => writeTree(d, { 'build/tracked.txt': 'changed\n', 'build/out.js': 'generated\n' }),
  ],
  [
    'a directory emptied of tracked files keeps an ignored file (listed as dir/)',
    (d) => {
      rmSync(at(d, 'gone/only.txt'));
      writeTree(d, { 'gone/left.tmp': 'ignored\n' });
    },
  ],
  [
    'a nested directory emptied of tracked files keeps an ignored file',
    (d) => {
      rmSync(at(d, 'nest/x/gone/a.txt'));
      rmSync(at(d, 'nest/x/gone/b.txt'));
      writeTree(d, { 'nest/x/gone/left.tmp': 'ignored\n' });
    },
  ],
  [
    'the agent ignores its own new file',
    (d) => {
      writeFileSync(at(d, '.gitignore'), '*.tmp\n.cache/\nbuild/\n.env\n');
      writeTree(d, { '.env': 'SECRET=1\n' });
    },
  ],
  [
    'the agent ignores a directory, changes a tracked file in it, and deletes another directory',
    (d) => {
      writeFileSync(at(d, '.gitignore'), '*.tmp\n.cache/\nbuild/\nsrc/\n');
      writeTree(d, { 'src/lib/deep/three.ts': 'changed below an ignored directory\n' });
      rmSync(at(d, 'docs'), { recursive: true, force: true });
    },
  ],
  [
    'runtime artifacts are dropped',
    (d) =>
      writeTree(d, { 'logs/a.log': 'runtime\n', 'logs/keep.log': 'rewritten\n', 'b.txt': 'b\n' }),
  ],
  [
    'a nested git repository is kept out and reported',
    (d) => {
      const nested = at(d, 'vendor/lib');
      mkdirSync(nested, { recursive: true });
      git(nested, ['init', '-q']);
      writeFileSync(join(nested, 'lib.js'), 'x\n');
      writeTree(d, { 'vendor/readme.txt': 'vendored\n' });
    },
  ],
  [
    'paths git refuses are reported',
    (d) =>
      writeTree(d, { '.GIT/hooks/x': '#!/bin/sh\n', 'git~1': 'short name\n', 'ok.txt': 'ok\n' }),
  ],
  [
    'non-UTF-8 content and name',
    (d) => {
      writeFileSync(at(d, 'latin1.txt'), Buffer.from('caf\xe9 cr\xe8me\n', 'latin1'));
      writeFileSync(Buffer.from(`${d}/odd-\xff.txt`, 'latin1'), 'odd name\n');
    },
  ],
  ['a glob-like name changes', (d) => writeFileSync(at(d, 'star*.txt'), 'still literal\n')],
  ['an empty new directory', (d) => mkdirSync(at(d, 'empty/dir'), { recursive: true })],
  [
    'everything is deleted',
    (d) => {
      for (const name of readdirSync(d, { encoding: 'buffer' }))
        rmSync(Buffer.concat([Buffer.from(`${d}/`), name]), { recursive: true });
    },
  ],
];

describe(overlaySuiteName('overlay workspaces'), () => {
  it.skipIf(skip)(
    'is an overlay mount with the base files, no .git, and its layers beside it',
    async () => {
      const twins = await setupTwins(BASE);
      const ws = await twins.attempt('overlay');
      expect(ws.strategy).toBe('overlay');
      expect(ws.strategyReason).toBeUndefined();
      expect(ws.upperDir).toBe(join(ws.attemptDir, 'upper'));
      expect(isMounted(ws.dir)).toBe(true);
      expect(existsSync(join(ws.dir, '.git'))).toBe(false);
      expect(describeTree(readTreeSnapshot(ws.dir))).toEqual(
        describeTree(baseTree(twins.repo, ws.baseCommit)),
      );
      expect(readdirSync(ws.attemptDir).sort()).toEqual([
        'overlay-work',
        'overlay.lower',
        'upper',
        'workspace',
      ]);
      expect(readdirSync(ws.upperDir ?? '')).toEqual([]);
    },
  );

  for (const [name, edit] of CHANGES) {
    it.skipIf(skip)(`gives the worktree's exact patch: ${name}`, async () => {
      const twins = await setupTwins(BASE);
      const worktree = await twins.attempt('worktree');
      const overlay = await twins.attempt('overlay');
      expect([worktree.strategy, overlay.strategy]).toEqual(['worktree', 'overlay']);
      edit(worktree.dir);
      edit(overlay.dir);
      const expected = await computePatch(worktree, { runtimeRule });
      const actual = await computePatch(overlay, { runtimeRule });
      expect(actual).toEqual(expected);
      // And it is right, not just equal: applying it reproduces the workspace.
      const applied = applyInFreshClone(twins.repo, overlay.baseCommit, actual);
      const wanted = expectedTree(
        readTreeSnapshot(overlay.dir),
        baseTree(twins.repo, overlay.baseCommit),
        actual,
      );
      expect(describeTree(applied)).toEqual(describeTree(wanted));
      expect(await checkPatchApplies(overlay, actual.text)).toMatchObject({ ok: true });
    });
  }

  it.skipIf(skip)('sees every change at once, as the worktree does', async () => {
    const twins = await setupTwins(BASE);
    const worktree = await twins.attempt('worktree');
    const overlay = await twins.attempt('overlay');
    for (const [name, edit] of CHANGES) {
      if (name === 'everything is deleted' || name === 'nothing') continue;
      edit(worktree.dir);
      edit(overlay.dir);
    }
    const expected = await computePatch(worktree, { runtimeRule });
    expect(expected.files.length).toBeGreaterThan(20);
    expect(await computePatch(overlay, { runtimeRule })).toEqual(expected);
  });

  it.skipIf(skip)('retargets a base symlink, and replaces a base symlink by a file', async () => {
    const repo = tempRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    symlinkSync('a.txt', join(repo, 'link'));
    symlinkSync('b.txt', join(repo, 'other-link'));
    commitAll(repo, 'links');
    const twins = await setupTwins({}, { repo });
    const worktree = await twins.attempt('worktree');
    const overlay = await twins.attempt('overlay');
    for (const dir of [worktree.dir, overlay.dir]) {
      unlinkSync(join(dir, 'link'));
      symlinkSync('b.txt', join(dir, 'link'));
      unlinkSync(join(dir, 'other-link'));
      writeFileSync(join(dir, 'other-link'), 'a file now\n');
    }
    const patch = await computePatch(overlay, { runtimeRule });
    expect(patch).toEqual(await computePatch(worktree, { runtimeRule }));
    expect(patch.files.find((f) => f.path === 'link')).toMatchObject({ symlinkTarget: 'b.txt' });
  });

  it.skipIf(skip)('sees a same-size rewrite whose mtime was put back', async () => {
    const twins = await setupTwins(BASE);
    const ws = await twins.attempt('overlay');
    const file = join(ws.dir, 'same-size.txt');
    const before = lstatSync(file);
    writeFileSync(file, 'bbbb\n');
    utimesSync(file, before.atime, before.mtime);
    // Through overlayfs the copied-up file keeps the lower file's inode number.
    expect(lstatSync(file).ino).toBe(before.ino);
    const patch = await computePatch(ws, { runtimeRule });
    expect(patch.files.map((f) => f.path)).toEqual(['same-size.txt']);
    expect(patch.text).toContain('+bbbb');
  });

  it.skipIf(skip)('reuses the cached checkout: a second attempt builds nothing', async () => {
    const twins = await setupTwins(BASE);
    const first = await twins.attempt('overlay');
    const entry = join(twins.cacheDir, first.baseCommit);
    const look = () =>
      [entry, join(entry, 'tree'), join(entry, 'index'), join(entry, 'tree', 'src')].map((p) => {
        const info = statSync(p);
        return `${p} ${info.ino} ${info.mtimeMs} ${info.ctimeMs}`;
      });
    const before = look();
    const second = await twins.attempt('overlay');
    writeFileSync(join(second.dir, 'a.txt'), 'changed\n');
    await computePatch(second, { runtimeRule });
    expect(look()).toEqual(before);
    expect(readdirSync(twins.cacheDir)).toEqual([first.baseCommit]);
  });

  it.skipIf(skip)('never modifies the cached checkout, whatever the agent does', async () => {
    const twins = await setupTwins(BASE);
    const ws = await twins.attempt('overlay');
    const tree = join(twins.cacheDir, ws.baseCommit, 'tree');
    const snapshot = () => {
      const files = describeTree(readTreeSnapshot(tree));
      const times: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const info = lstatSync(join(dir, name));
          times.push(`${join(dir, name)} ${info.mode} ${info.mtimeMs} ${info.ctimeMs}`);
          if (info.isDirectory()) walk(join(dir, name));
        }
      };
      walk(tree);
      return [...files, ...times];
    };
    const before = snapshot();
    for (const [, edit] of CHANGES) edit(ws.dir);
    chmodSync(join(ws.dir), 0o700);
    await computePatch(ws, { runtimeRule });
    await removeWorkspace(ws);
    expect(snapshot()).toEqual(before);
  });

  it.skipIf(skip)('removeWorkspace unmounts, then deletes the layers and the marker', async () => {
    const twins = await setupTwins(BASE);
    const ws = await twins.attempt('overlay');
    writeFileSync(join(ws.attemptDir, 'stdout.log'), 'agent output\n');
    writeTree(ws.dir, { 'deep/new/file.txt': 'x\n' });
    chmodSync(join(ws.dir, 'deep'), 0o500);
    await removeWorkspace(ws);
    expect(isMounted(ws.dir)).toBe(false);
    expect(readdirSync(ws.attemptDir)).toEqual(['stdout.log']);
    expect(existsSync(join(twins.cacheDir, ws.baseCommit, 'tree', 'a.txt'))).toBe(true);
    await removeWorkspace(ws);
  });

  it.skipIf(skip)('removeWorkspace detaches a busy mount lazily', async () => {
    const twins = await setupTwins(BASE);
    const ws = await twins.attempt('overlay');
    const busy = spawn('sleep', ['30'], { cwd: join(ws.dir, 'src'), stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await removeWorkspace(ws);
      expect(isMounted(ws.dir)).toBe(false);
      expect(existsSync(join(ws.attemptDir, 'workspace'))).toBe(false);
      expect(existsSync(join(twins.cacheDir, ws.baseCommit, 'tree', 'src', 'keep.ts'))).toBe(true);
    } finally {
      busy.kill('SIGKILL');
    }
  });

  it.skipIf(skip)(
    'computePatch refuses an overlay workspace that is no longer mounted',
    async () => {
      const twins = await setupTwins(BASE);
      const ws = await twins.attempt('overlay');
      git(tempDir(), ['--version']);
      const { execFileSync } = await import('node:child_process');
      execFileSync('umount', [ws.dir]);
      writeFileSync(join(ws.dir, 'host-file'), 'not the agent workspace\n');
      const error = await computePatch(ws, { runtimeRule }).catch((e: unknown) => e);
      expect(isAasError(error) && error.code).toBe('INTERNAL');
      expect(isAasError(error) && error.message).toContain('not mounted as it was created');
    },
  );

  it.skipIf(skip)('replaces a mounted leftover of a crashed try of the same attempt', async () => {
    const twins = await setupTwins(BASE);
    const ws = await twins.attempt('overlay');
    writeFileSync(join(ws.dir, 'junk.txt'), 'left behind\n');
    const again = await createWorkspace(twins.git, {
      baseCommit: ws.baseCommit,
      attemptDir: ws.attemptDir,
      strategy: 'overlay',
      checkoutCacheDir: twins.cacheDir,
    });
    expect(existsSync(join(again.dir, 'junk.txt'))).toBe(false);
    expect(readdirSync(again.upperDir ?? '')).toEqual([]);
    expect((await computePatch(again, { runtimeRule })).files).toEqual([]);
  });

  it.skipIf(skip)(
    'concurrent builds of one commit both succeed and leave one checkout',
    async () => {
      const repo = tempRepo(BASE);
      const cacheDir = join(tempDir('aas-cache-'), 'checkouts');
      const runs = await Promise.all(
        ['run_00000000000000000000000a', 'run_00000000000000000000000b'].map(async (runId) => {
          const runDir = join(tempDir('aas-run-'), runId);
          const runGit = await prepareRunGit({ runDir, repo });
          const base = await resolveBase(runGit, { allowDirty: false });
          return { runDir, runGit, base };
        }),
      );
      const workspaces = await Promise.all(
        runs.flatMap(({ runDir, runGit, base }) =>
          [1, 2].map((n) =>
            createWorkspace(runGit, {
              baseCommit: base.baseCommit,
              attemptDir: join(runDir, `attempt-${n}`),
              strategy: 'overlay',
              checkoutCacheDir: cacheDir,
            }),
          ),
        ),
      );
      const commit = workspaces[0]?.baseCommit ?? '';
      expect(readdirSync(cacheDir)).toEqual([commit]);
      for (const ws of workspaces) {
        expect(ws.strategy).toBe('overlay');
        expect(readFileSync(join(ws.dir, 'a.txt'), 'utf8')).toBe('alpha\nbeta\ngamma\n');
        writeFileSync(join(ws.dir, 'a.txt'), `${ws.attemptDir}\n`);
      }
      for (const ws of workspaces) {
        const patch = await computePatch(ws, { runtimeRule });
        expect(patch.files.map((f) => f.path)).toEqual(['a.txt']);
        expect(patch.text).toContain(`+${ws.attemptDir}`);
      }
    },
  );

  it.skipIf(skip)(
    'collectOrphanWorkspaces unmounts stale mounts, then removes; live runs keep theirs',
    async () => {
      const repo = tempRepo(BASE);
      const runsDir = tempDir('aas-runs-');
      const cacheDir = join(tempDir('aas-cache-'), 'checkouts');
      const LIVE = 'run_00000000000000000000000a';
      const DEAD = 'run_00000000000000000000000b';
      const made: Workspace[] = [];
      for (const runId of [LIVE, DEAD]) {
        const runDir = join(runsDir, runId);
        const runGit = await prepareRunGit({ runDir, repo });
        const base = await resolveBase(runGit, { allowDirty: false });
        const ws = await createWorkspace(runGit, {
          baseCommit: base.baseCommit,
          attemptDir: join(runDir, 'attempt-1'),
          strategy: 'overlay',
          checkoutCacheDir: cacheDir,
        });
        writeFileSync(join(ws.attemptDir, 'stdout.log'), 'kept\n');
        writeFileSync(join(ws.dir, 'agent.txt'), 'written by the agent\n');
        made.push(ws);
      }
      const [live, dead] = made;
      if (live === undefined || dead === undefined) throw new Error('no workspaces');
      // A stale mount without any marker (say, a crash right after mounting by hand) is found too.
      rmSync(join(dead.attemptDir, 'overlay.lower'));
      const result = await collectOrphanWorkspaces({
        runsDir,
        isRunLive: async (runId) => runId === LIVE,
      });
      expect(result.unmounted).toEqual([dead.dir]);
      expect(result.kept).toEqual([live.attemptDir]);
      expect(isMounted(dead.dir)).toBe(false);
      expect(isMounted(live.dir)).toBe(true);
      expect(readFileSync(join(live.dir, 'agent.txt'), 'utf8')).toBe('written by the agent\n');
      // Without its marker the attempt is not recognised, but nothing is mounted there any more.
      expect(existsSync(join(dead.attemptDir, 'stdout.log'))).toBe(true);
      expect(existsSync(join(cacheDir, dead.baseCommit, 'tree', 'a.txt'))).toBe(true);

      writeFileSync(join(dead.attemptDir, 'overlay.lower'), `${join(cacheDir, dead.baseCommit)}\n`);
      const again = await collectOrphanWorkspaces({
        runsDir,
        isRunLive: async (id) => id === LIVE,
      });
      expect(again.removed).toEqual([dead.attemptDir]);
      expect(readdirSync(dead.attemptDir)).toEqual(['stdout.log']);
    },
  );

  it.skipIf(skip)(
    'collectCheckoutCache keeps what is mounted, kept or recent, and removes the rest',
    async () => {
      const repo = tempRepo({ 'a.txt': 'zero\n' });
      const cacheDir = join(tempDir('aas-cache-'), 'checkouts');
      const commits: string[] = [];
      const workspaces: Workspace[] = [];
      const runDir = join(tempDir('aas-run-'), 'run_0123456789abcdef01234567');
      for (const content of ['one\n', 'two\n', 'three\n', 'four\n']) {
        writeTree(repo, { 'a.txt': content });
        commits.push(commitAll(repo, content));
        const runGit = await prepareRunGit({ runDir, repo });
        const base = await resolveBase(runGit, { allowDirty: false });
        workspaces.push(
          await createWorkspace(runGit, {
            baseCommit: base.baseCommit,
            attemptDir: join(runDir, `attempt-${commits.length}`),
            strategy: 'overlay',
            checkoutCacheDir: cacheDir,
          }),
        );
      }
      const [mounted, kept, recent, unused] = commits;
      // Only the first attempt stays mounted; the checkout of `recent` was used just now.
      for (const ws of workspaces.slice(1)) await removeWorkspace(ws);
      const old = new Date(Date.now() - 3_600_000);
      for (const commit of [mounted, kept, unused])
        utimesSync(join(cacheDir, commit ?? '', 'used'), old, old);
      mkdirSync(join(cacheDir, '.build-crashed'));
      utimesSync(join(cacheDir, '.build-crashed'), new Date(0), new Date(0));

      const result = await collectCheckoutCache(cacheDir, {
        keepCommits: new Set([kept ?? '']),
        olderThanMs: 600_000,
        nowMs: Date.now(),
      });
      expect(result.inUse).toEqual([mounted]);
      expect(result.removed).toEqual([unused]);
      expect([...result.kept].sort()).toEqual([kept, recent].sort());
      expect(result.discarded).toEqual(['.build-crashed']);
      expect(readdirSync(cacheDir).sort()).toEqual([mounted, kept, recent].sort());
      expect(readFileSync(join(workspaces[0]?.dir ?? '', 'a.txt'), 'utf8')).toBe('one\n');

      // Without an age limit everything not mounted and not kept goes; the mounted one never does.
      const all = await collectCheckoutCache(cacheDir, {
        keepCommits: new Set(),
        nowMs: Date.now(),
      });
      expect(all.inUse).toEqual([mounted]);
      expect([...all.removed].sort()).toEqual([kept, recent].sort());
      // An evicted checkout is rebuilt when an attempt needs it again.
      const runGit = await prepareRunGit({ runDir, repo });
      const rebuilt = await createWorkspace(runGit, {
        baseCommit: unused ?? '',
        attemptDir: join(runDir, 'attempt-9'),
        strategy: 'overlay',
        checkoutCacheDir: cacheDir,
      });
      expect(readFileSync(join(rebuilt.dir, 'a.txt'), 'utf8')).toBe('four\n');
    },
  );
});

describe('workspace strategy choice', () => {
  it('uses a worktree when asked, and says why auto could not use overlay without a cache', async () => {
    const twins = await setupTwins({ 'a.txt': 'a\n' });
    const worktree = await twins.attempt('worktree');
    expect(worktree.strategy).toBe('worktree');
    expect(worktree.strategyReason).toBeUndefined();
    expect(worktree.upperDir).toBeUndefined();
    const auto = await createWorkspace(twins.git, {
      baseCommit: twins.base.baseCommit,
      attemptDir: join(twins.runDir, 'attempt-auto'),
    });
    expect(auto.strategy).toBe('worktree');
    expect(auto.strategyReason).toContain('checkoutCacheDir');
  });

  it("refuses strategy 'overlay' without a cache directory as a bad argument", async () => {
    const twins = await setupTwins({ 'a.txt': 'a\n' });
    const error = await createWorkspace(twins.git, {
      baseCommit: twins.base.baseCommit,
      attemptDir: join(twins.runDir, 'attempt-1'),
      strategy: 'overlay',
    }).catch((e: unknown) => e);
    expect(isAasError(error) && error.code).toBe('INVALID_ARGUMENT');
    expect(isAasError(error) && error.details.field).toBe('checkoutCacheDir');
  });

  it.skipIf(skip)('auto picks overlay when the host allows it', async () => {
    const twins = await setupTwins({ 'a.txt': 'a\n' });
    const ws = await createWorkspace(twins.git, {
      baseCommit: twins.base.baseCommit,
      attemptDir: join(twins.runDir, 'attempt-auto'),
      checkoutCacheDir: twins.cacheDir,
    });
    expect(ws.strategy).toBe('overlay');
  });

  it('auto falls back to a worktree, with the reason, where overlay cannot be mounted', async () => {
    const twins = await setupTwins({ 'a.txt': 'a\n' });
    const odd = join(tempDir('aas-odd,dir-'), 'run_0123456789abcdef01234567');
    const ws = await createWorkspace(twins.git, {
      baseCommit: twins.base.baseCommit,
      attemptDir: join(odd, 'attempt-1'),
      checkoutCacheDir: twins.cacheDir,
    });
    expect(ws.strategy).toBe('worktree');
    expect(ws.strategyReason).toBeTruthy();
    const error = await createWorkspace(twins.git, {
      baseCommit: twins.base.baseCommit,
      attemptDir: join(odd, 'attempt-2'),
      strategy: 'overlay',
      checkoutCacheDir: twins.cacheDir,
    }).catch((e: unknown) => e);
    expect(isAasError(error) && error.code).toBe('SANDBOX_UNAVAILABLE');
  });

  it.skipIf(skip)('still says BASE_REF_UNKNOWN for an unknown base', async () => {
    const twins = await setupTwins({ 'a.txt': 'a\n' });
    const error = await createWorkspace(twins.git, {
      baseCommit: '0'.repeat(40),
      attemptDir: join(twins.runDir, 'attempt-x'),
      strategy: 'overlay',
      checkoutCacheDir: twins.cacheDir,
    }).catch((e: unknown) => e);
    expect(isAasError(error) && error.code).toBe('BASE_REF_UNKNOWN');
  });
});
