import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import { createRepositoryFromFiles } from '../../src/workspaces/index.js';
import { git } from '../helpers/temp-repo.js';
import { cleanupAll, tempDir } from './workspace-fixture.js';

afterAll(cleanupAll);

describe('createRepositoryFromFiles', () => {
  it('creates one commit on main, and re-running with the same files returns the same commit', async () => {
    const dir = join(tempDir(), 'demo');
    const files = { 'README.md': '# x\n', 'src/a.js': 'export {};\n' };
    const commit = await createRepositoryFromFiles(dir, files, 'initial');
    expect(git(dir, ['rev-parse', 'main']).trim()).toBe(commit);
    expect(git(dir, ['ls-tree', '-r', '--name-only', 'HEAD']).trim().split('\n')).toEqual([
      'README.md',
      'src/a.js',
    ]);
    expect(git(dir, ['status', '--porcelain'])).toBe('');
    const objects = git(dir, ['count-objects', '-v']);
    expect(await createRepositoryFromFiles(dir, files, 'initial')).toBe(commit);
    expect(git(dir, ['count-objects', '-v'])).toBe(objects);
  });

  it('refuses to overwrite a directory with other content, and paths into .git', async () => {
    const dir = join(tempDir(), 'demo');
    await createRepositoryFromFiles(dir, { 'a.txt': 'a\n' }, 'initial');
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (isAasError(e) ? e.code : 'other'),
      );
    expect(await code(createRepositoryFromFiles(dir, { 'a.txt': 'b\n' }, 'x'))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(
      await code(
        createRepositoryFromFiles(join(tempDir(), 'n'), { '.git/hooks/pre-commit': 'x' }, 'x'),
      ),
    ).toBe('INVALID_ARGUMENT');
    expect(
      await code(createRepositoryFromFiles(join(tempDir(), 'n'), { '../escape': 'x' }, 'x')),
    ).toBe('INVALID_ARGUMENT');
  });
});
