import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ANY_REPO_PATH, checkRepoPath } from './repo-path-rule.js';

describe('checkRepoPath', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aas-repo-path-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'repos');
  const outside = join(dir, 'private');
  mkdirSync(join(root, 'app'), { recursive: true });
  mkdirSync(join(root, '..app'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  symlinkSync(outside, join(root, 'escape'));
  symlinkSync(join(root, 'app'), join(dir, 'alias'));
  const rule = { roots: [root, join(dir, 'missing-root')] };
  const refused = { code: 'JOB_INVALID', details: { field: 'repo' } };

  it('lets through what lies inside a root, symbolic links resolved', async () => {
    await checkRepoPath(root, rule);
    await checkRepoPath(join(root, 'app'), rule);
    // A name that merely starts with two dots is inside.
    await checkRepoPath(join(root, '..app'), rule);
    // A link from elsewhere to a repository inside a root.
    await checkRepoPath(join(dir, 'alias'), rule);
  });

  it('refuses what lies outside, a link inside a root that points out included', async () => {
    await expect(checkRepoPath(outside, rule)).rejects.toMatchObject(refused);
    await expect(checkRepoPath(join(root, 'escape'), rule)).rejects.toMatchObject(refused);
    await expect(checkRepoPath(join(root, 'app', '..', '..'), rule)).rejects.toMatchObject(refused);
  });

  it('says nothing of whether a path outside exists; one inside is left to the caller', async () => {
    await expect(checkRepoPath(join(outside, 'nope'), rule)).rejects.toMatchObject(refused);
    await expect(checkRepoPath('/no/such/path', rule)).rejects.toMatchObject(refused);
    await checkRepoPath(join(root, 'not-yet'), rule);
    // Missing behind a link that points out: refused like anything outside, not "missing".
    await expect(checkRepoPath(join(root, 'escape', 'nope'), rule)).rejects.toMatchObject(refused);
  });

  it('lets anything through under *', async () => {
    await checkRepoPath('/etc', ANY_REPO_PATH);
    await checkRepoPath(outside, { roots: [root, '*'] });
  });
});
