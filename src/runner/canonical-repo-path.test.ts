import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalRepoPath } from './canonical-repo-path.js';

describe('canonicalRepoPath', () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'aas-canonical-')));
  const repo = join(root, 'repo');
  mkdirSync(join(repo, '.git'), { recursive: true });
  mkdirSync(join(repo, 'src', 'deep'), { recursive: true });
  symlinkSync(repo, join(root, 'link'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('gives every spelling of one repository the same key: its real top-level directory', () => {
    for (const spelling of [
      repo,
      `${repo}/`,
      join(repo, 'src'),
      join(repo, 'src', 'deep'),
      join(root, 'link'),
      join(root, 'link', 'src'),
      `${repo}/src/../src/deep`,
    ]) {
      expect(canonicalRepoPath(spelling), spelling).toBe(repo);
    }
  });

  it('leaves what is not a repository as typed, for the error that names it', () => {
    expect(canonicalRepoPath(join(root, 'missing'))).toBe(join(root, 'missing'));
    mkdirSync(join(root, 'plain'));
    expect(canonicalRepoPath(join(root, 'plain'))).toBe(join(root, 'plain'));
    expect(canonicalRepoPath('relative/path')).toBe('relative/path');
  });

  it('leaves repository URLs alone: their host fetches them, nothing here resolves them', () => {
    for (const url of [`file://${repo}`, 'https://example.test/o/r.git', 'git@example.test:o/r']) {
      expect(canonicalRepoPath(url), url).toBe(url);
    }
  });
});
