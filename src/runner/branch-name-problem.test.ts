import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { branchNameProblem } from './branch-name-problem.js';

/** What git itself says of `name` as a branch name. */
function gitAccepts(name: string): boolean {
  try {
    execFileSync('git', ['check-ref-format', '--branch', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('branchNameProblem', () => {
  it('agrees with git check-ref-format --branch', () => {
    const names = [
      'main',
      'release/1.x',
      'feature/a-b_c.d',
      'main..x',
      'a b',
      'a~1',
      'a^',
      'a:b',
      'a?',
      'a*',
      'a[b',
      'a\\b',
      '/a',
      'a/',
      'a//b',
      'a.',
      '.a',
      'a/.b',
      'a.lock',
      'a/b.lock/c',
      'a@{1}',
      '-x',
      'x\u0001',
    ];
    for (const name of names) {
      expect(branchNameProblem(name) === null, name).toBe(gitAccepts(name));
    }
  });

  it('refuses what git takes but is no branch to promote onto, saying what to write', () => {
    expect(branchNameProblem('HEAD')).toBe('"HEAD" names a commit, not a branch');
    expect(branchNameProblem('refs/heads/main')).toBe(
      '"refs/heads/main" is a full ref name; name the branch short: "main"',
    );
    expect(branchNameProblem('refs/tags/v1')).toMatch(/full ref name; a target is a branch/);
  });
});
