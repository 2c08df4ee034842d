import { describe, expect, it } from 'vitest';
import { gitEnv, HARDENED_GIT_CONFIG } from './git-env.js';

describe('gitEnv', () => {
  it('is built from scratch: only what it names, never the host environment', () => {
    const env = gitEnv({
      searchPath: '/usr/bin',
      gitDir: '/run/git',
      workTree: '/run/ws',
      literalPathspecs: true,
    });
    expect(env).toMatchObject({
      PATH: '/usr/bin',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_ATTR_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_DIR: '/run/git',
      GIT_WORK_TREE: '/run/ws',
      GIT_LITERAL_PATHSPECS: '1',
      LC_ALL: 'C',
    });
    expect(
      Object.keys(env).every((key) =>
        /^(PATH|HOME|XDG_CONFIG_HOME|LC_ALL|LANG|TZ|PAGER|GIT_[A-Z_]+)$/.test(key),
      ),
    ).toBe(true);
    expect(env.GIT_INDEX_FILE).toBeUndefined();
  });

  it('disables hooks and fsmonitor for every command', () => {
    expect(HARDENED_GIT_CONFIG.join(' ')).toContain('-c core.hooksPath=/dev/null');
    expect(HARDENED_GIT_CONFIG.join(' ')).toContain('-c core.fsmonitor=false');
  });
});
