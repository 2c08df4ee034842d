import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { DEFAULT_GIT_SEARCH_PATH } from './git-env.js';
import { runGit, splitNul } from './run-git.js';

describe('splitNul', () => {
  it('splits on NUL without a trailing empty field', () => {
    expect(splitNul(Buffer.from('a\0b c\0')).map(String)).toEqual(['a', 'b c']);
    expect(splitNul(Buffer.from('a\0b'))).toHaveLength(2);
    expect(splitNul(Buffer.alloc(0))).toEqual([]);
  });
});

describe('runGit', () => {
  it('reports failures as INTERNAL with the command and git’s message', async () => {
    const error = await runGit({
      args: ['rev-parse', '--verify', 'nope'],
      cwd: '/',
      env: { searchPath: DEFAULT_GIT_SEARCH_PATH },
    }).catch((e: unknown) => e);
    expect(isAasError(error) && error.code).toBe('INTERNAL');
    expect(isAasError(error) && error.message).toContain('git rev-parse --verify nope failed');
  });

  it('stops reading at maxStdoutBytes and says so', async () => {
    const result = await runGit({
      args: ['help', '-a'],
      cwd: '/',
      env: { searchPath: DEFAULT_GIT_SEARCH_PATH },
      maxStdoutBytes: 100,
    });
    expect(result.stdoutOverflow).toBe(true);
    expect(result.stdout.length).toBeLessThanOrEqual(100);
  });

  it('says where it looked when git cannot be found', async () => {
    const error = await runGit({
      args: ['--version'],
      cwd: '/',
      env: { searchPath: '/nonexistent' },
    }).catch((e: unknown) => e);
    expect(isAasError(error) && error.details.hint).toContain('/nonexistent');
  });
});
