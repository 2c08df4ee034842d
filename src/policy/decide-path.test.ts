import { describe, expect, it } from 'vitest';
import { decidePath, runtimeRule } from './decide-path.js';
import { mergePolicy } from './merge-policy.js';
import { isGitMetadataSegment, normaliseRepoPath } from './normalise-repo-path.js';

describe('normaliseRepoPath', () => {
  it.each([
    ['src/a.ts', 'src/a.ts'],
    ['./src/a.ts', 'src/a.ts'],
    ['src//a.ts', 'src/a.ts'],
    ['src/./a.ts', 'src/a.ts'],
    ['src/a/', 'src/a'],
    ['a\\b.ts', 'a\\b.ts'],
    ['..a/b..', '..a/b..'],
    ['C:/x', 'C:/x'],
    ['with space/ä.ts', 'with space/ä.ts'],
  ])('normalises %j to %j', (input, output) => {
    expect(normaliseRepoPath(input)).toEqual({ ok: true, path: output });
  });

  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'absolute'],
    ['//x', 'absolute'],
    ['../x', "'..'"],
    ['src/../x', "'..'"],
    ['src/..', "'..'"],
    ['a\0b', 'NUL'],
    ['.', 'root'],
    ['./', 'root'],
  ])('refuses %j (%s)', (input, words) => {
    const result = normaliseRepoPath(input);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toContain(words);
  });

  it('treats backslashes as filename characters, not separators', () => {
    const policy = mergePolicy([
      { name: 'job', source: 'job', layer: { paths: { allow: ['src/**'] } } },
    ]);
    expect(decidePath(policy, 'src\\a.ts').allowed).toBe(false);
    expect(decidePath(policy, 'src/a\\b.ts').allowed).toBe(true);
    // `..\\x` is one odd filename, not a parent reference on POSIX; it stays inside.
    expect(normaliseRepoPath('..\\x')).toEqual({ ok: true, path: '..\\x' });
  });
});

describe('git metadata', () => {
  it.each([
    '.git',
    '.GIT',
    '.Git',
    '.git.',
    '.git ',
    '.git. .',
    'git~1',
    'GIT~1',
    '.git::$INDEX_ALLOCATION',
    '.g\u200cit',
  ])('recognises %j', (segment) => {
    expect(isGitMetadataSegment(segment)).toBe(true);
  });

  it.each(['.gitignore', '.github', '.gitmodules', 'git', '.gi', 'x.git'])(
    'does not flag %j',
    (segment) => {
      expect(isGitMetadataSegment(segment)).toBe(false);
    },
  );

  it.each([
    '.git/config',
    '.GIT/hooks/pre-commit',
    'sub/.git/HEAD',
    'sub/.Git',
    'a/GIT~1/config',
    './.git/config',
  ])('denies %j even when every layer allows everything', (path) => {
    const policy = mergePolicy([
      { name: 'job', source: 'job', layer: { paths: { allow: ['**'] } } },
    ]);
    expect(decidePath(policy, path)).toMatchObject({ allowed: false, kind: 'git-metadata' });
  });
});

describe('decidePath', () => {
  const policy = mergePolicy([
    {
      name: 'repo',
      source: '.aas/policy.yaml',
      layer: { paths: { allow: ['src/**', 'docs/*.md'], deny: ['src/vendor/**'] } },
    },
  ]);

  it('allows a path every allow-list admits and no deny matches', () => {
    expect(decidePath(policy, 'src/a.ts')).toEqual({
      path: 'src/a.ts',
      allowed: true,
      kind: 'allowed',
      reason: 'allowed',
    });
    expect(decidePath(policy, './docs//intro.md')).toMatchObject({
      path: 'docs/intro.md',
      allowed: true,
    });
  });

  it('names the layer and glob behind a denial', () => {
    expect(decidePath(policy, 'src/vendor/x.js')).toEqual({
      path: 'src/vendor/x.js',
      allowed: false,
      kind: 'denied',
      layer: 'repo',
      rule: 'src/vendor/**',
      reason: 'denied by layer repo (src/vendor/**)',
    });
  });

  it('names the layer whose allow-list missed, with its patterns', () => {
    expect(decidePath(policy, 'docs/deep/x.md')).toMatchObject({
      allowed: false,
      kind: 'not-allowed',
      layer: 'repo',
      rule: 'paths.allow [src/**, docs/*.md]',
    });
  });

  it('reports invalid paths as given', () => {
    expect(decidePath(policy, '../etc/passwd')).toMatchObject({
      path: '../etc/passwd',
      allowed: false,
      kind: 'invalid-path',
    });
    expect(decidePath(policy, '/abs')).toMatchObject({ kind: 'invalid-path' });
  });

  it('matches case-sensitively', () => {
    expect(decidePath(policy, 'SRC/a.ts').allowed).toBe(false);
    const deny = mergePolicy([
      { name: 'repo', source: 'r', layer: { paths: { deny: ['Secrets/**'] } } },
    ]);
    expect(decidePath(deny, 'secrets/a').allowed).toBe(true);
    expect(decidePath(deny, 'Secrets/a').allowed).toBe(false);
  });

  it.each(['secrets/a\nb', 'secrets/a\rb', 'secrets/a\u2028b', 'secrets/\n/x', 'secrets/a\tb'])(
    'matches deny globs across line terminators in file names (%j)',
    (path) => {
      const deny = mergePolicy([
        { name: 'repo', source: 'r', layer: { paths: { deny: ['secrets/**'] } } },
      ]);
      expect(decidePath(deny, path)).toMatchObject({
        allowed: false,
        kind: 'denied',
        rule: 'secrets/**',
      });
      expect(decidePath(policy, `src/${path}`).allowed).toBe(true);
    },
  );

  it('lets * and ** reach dotfiles', () => {
    const dots = mergePolicy([
      { name: 'job', source: 'j', layer: { paths: { allow: ['src/*'], deny: ['**/.cache/**'] } } },
    ]);
    expect(decidePath(dots, 'src/.eslintrc').allowed).toBe(true);
    expect(decidePath(dots, 'src/.cache/x')).toMatchObject({
      kind: 'denied',
      rule: '**/.cache/**',
    });
  });
});

describe('runtimeRule', () => {
  const policy = mergePolicy([
    { name: 'repo', source: 'r', layer: { paths: { runtime: ['dist/**'] } } },
  ]);

  it.each([
    ['logs/run.log', 'floor', 'logs/**'],
    ['a/b/__pycache__/m.cpython-311.pyc', 'floor', '**/__pycache__/**'],
    ['m.pyc', 'floor', '**/*.pyc'],
    ['.DS_Store', 'floor', '**/.DS_Store'],
    ['x/.pytest_cache/v/cache', 'floor', '**/.pytest_cache/**'],
    ['coverage/lcov.info', 'floor', 'coverage/**'],
    ['./dist//bundle.js', 'repo', 'dist/**'],
  ])('finds the rule for %s', (path, layer, rule) => {
    expect(runtimeRule(policy, path)).toEqual({ layer, rule });
  });

  it('returns null for source files and invalid paths', () => {
    expect(runtimeRule(policy, 'src/a.ts')).toBeNull();
    expect(runtimeRule(policy, '../logs/x')).toBeNull();
    expect(runtimeRule(policy, 'srccoverage/x')).toBeNull();
  });
});
