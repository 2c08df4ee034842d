import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { git, makeTempDir } from '../helpers/temp-repo.js';
import {
  captureHost,
  createHostileEnv,
  deniedPaths,
  disposeHostileEnvs,
  eventsOf,
  expectHostUnchanged,
  expectNoSecretLeak,
  expectOutcome,
  type HostileEnv,
  type HostileRun,
  POLICY_DENIED,
  patchPaths,
  patchText,
  READY,
  runHostile,
  shq,
  skipHostile,
} from './hostile-fixture.js';

const cleanup: string[] = [];
afterAll(() => {
  disposeHostileEnvs();
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

/** Markers a git hook, filter or config command would leave in the canary dir if AAS ran it. */
function markerCommand(env: HostileEnv, what: string): string {
  return `touch ${env.canary}/ran-${what}-${env.token}`;
}

function markersIn(env: HostileEnv): string[] {
  return readdirSync(env.canary).filter((name) => name.startsWith('ran-'));
}

function runtimeDropped(run: HostileRun): { path: string; rule: string }[] {
  return (eventsOf(run, 'patch.computed')[0]?.data.runtimeDropped ?? []) as {
    path: string;
    rule: string;
  }[];
}

/** Applies the run's artifact to a fresh clone of the base, as promotion would. */
function applyToClone(env: HostileEnv, run: HostileRun): string {
  const clone = makeTempDir('aas-adv-clone-');
  cleanup.push(clone);
  git(clone, ['clone', '-q', env.repo, '.']);
  git(clone, ['apply', '--whitespace=nowarn', run.outcome.patch?.path ?? '']);
  return clone;
}

describe.skipIf(skipHostile)('adversarial: the agent plants git metadata', () => {
  it('makes its workspace a git repository whose config and hooks run commands (fsmonitor, hooksPath, pager, filters, textconv), then a validator runs git', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const hooks = ['pre-commit', 'post-checkout', 'post-index-change', 'reference-transaction'];
    const script = [
      'git init -q . && git config user.name x && git config user.email x@x',
      `git config core.fsmonitor ${shq(markerCommand(env, 'fsmonitor'))}`,
      'git config core.hooksPath "$PWD/.githooks"',
      `git config core.pager ${shq(markerCommand(env, 'pager'))}`,
      `git config core.editor ${shq(markerCommand(env, 'editor'))}`,
      `git config core.sshCommand ${shq(markerCommand(env, 'ssh'))}`,
      `git config diff.external ${shq(markerCommand(env, 'diffexternal'))}`,
      `git config filter.pwn.clean ${shq(`${markerCommand(env, 'clean')}; cat`)}`,
      `git config filter.pwn.smudge ${shq(`${markerCommand(env, 'smudge')}; cat`)}`,
      'git config filter.pwn.required true',
      `git config diff.pwn.textconv ${shq(`${markerCommand(env, 'textconv')}; cat`)}`,
      'mkdir -p .githooks',
      `for hook in ${hooks.join(' ')}; do`,
      `  printf '#!/bin/sh\\n%s\\n' ${shq(markerCommand(env, 'hook'))} | tee ".git/hooks/$hook" > ".githooks/$hook"`,
      '  chmod +x ".git/hooks/$hook" ".githooks/$hook"',
      'done',
      "printf '* filter=pwn diff=pwn\\n' > .gitattributes",
      "printf 'export const answer = 42;\\n' > src/app.js",
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script, {
      validate: [
        'git status >/dev/null 2>&1; git diff >/dev/null 2>&1; git add -A 2>/dev/null; true',
      ],
    });
    expectOutcome(env, run, READY);
    // The workspace's own .git never enters the patch; its hooks, though promoted, are plain
    // files under .githooks that nothing configures on the user's side.
    expect(patchPaths(run)).toEqual([
      '.gitattributes',
      '.githooks/post-checkout',
      '.githooks/post-index-change',
      '.githooks/pre-commit',
      '.githooks/reference-transaction',
      'src/app.js',
      'y.txt',
    ]);
    // The clean filter never ran on AAS's side: the patch carries the exact bytes.
    expect(patchText(run)).toContain('+export const answer = 42;');
    expect(markersIn(env)).toEqual([]);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('plants .gitmodules (ext:: URL, `update = !cmd`), .gitattributes filters and a real embedded repository (a would-be submodule)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const script = [
      `printf '[submodule "lib"]\\n\\tpath = lib\\n\\turl = ext::sh -c touch%% ${env.canary}/ran-ext-${env.token}\\n\\tupdate = !${markerCommand(env, 'update')}\\n' > .gitmodules`,
      "printf '* filter=lfs diff=lfs merge=lfs -text\\n*.js ident\\n' > .gitattributes",
      'mkdir lib && cd lib && git init -q . && echo "evil" > evil.js',
      'git -c user.name=x -c user.email=x@x add evil.js && git -c user.name=x -c user.email=x@x commit -qm x',
      'cd ..',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual(['.gitattributes', '.gitmodules', 'y.txt']);
    // No gitlink (mode 160000) and none of the embedded repository's files are promoted; the
    // session says why the directory was left out.
    expect(patchText(run)).not.toMatch(/160000|evil\.js/);
    expect(runtimeDropped(run)).toContainEqual(
      expect.objectContaining({
        path: 'lib',
        rule: expect.stringContaining('embedded git repository'),
      }),
    );
    // Promotion applies the files as text and runs nothing.
    const clone = applyToClone(env, run);
    expect(existsSync(join(clone, 'lib', 'evil.js'))).toBe(false);
    expect(markersIn(env)).toEqual([]);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('points `.git` files (gitdir:) at the user repository and the canary dir, at the root and nested', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const script = [
      'mkdir -p vendor other',
      `printf 'gitdir: %s\\n' ${shq(join(env.repo, '.git'))} > vendor/.git`,
      `printf 'gitdir: %s\\n' ${shq(env.canary)} > other/.git`,
      // And the workspace root itself, which AAS's own git must never take for a repository.
      `printf 'gitdir: %s\\n' ${shq(join(env.repo, '.git'))} > .git`,
      'echo lib > vendor/lib.js',
      'echo lib > other/lib.js',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    const paths = patchPaths(run);
    expect(paths.filter((path) => path.split('/').includes('.git'))).toEqual([]);
    // Every file the agent wrote is either promoted or reported as left out.
    const dropped = runtimeDropped(run).map((entry) => entry.path);
    for (const file of ['vendor/lib.js', 'other/lib.js', 'y.txt']) {
      const accounted = paths.includes(file) || dropped.includes(file.split('/')[0] ?? '');
      expect(accounted, `${file} promoted or reported`).toBe(true);
    }
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('writes git-metadata aliases git itself refuses (.GIT, .Git, `.git.`, `.git `, GIT~1, `.git::$INDEX_ALLOCATION`)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const aliases = [
      '.GIT/hooks/pre-commit',
      '.Git/config',
      '.git./hooks/post-checkout',
      '.git /config',
      'GIT~1/config',
      '.git::$INDEX_ALLOCATION/config',
      'sub/.GIT/hooks/pre-commit',
    ];
    const script = [
      `for path in ${aliases.map(shq).join(' ')}; do`,
      '  mkdir -p "$(dirname "$path")" && printf \'#!/bin/sh\\n%s\\n\' "touch pwned" > "$path" && chmod +x "$path"',
      'done',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual(['y.txt']);
    // Left out of the patch, and the session says so path by path: nothing vanishes silently.
    const dropped = runtimeDropped(run);
    for (const alias of aliases) {
      expect(dropped, `${alias} reported`).toContainEqual({
        path: alias,
        layer: 'workspaces',
        rule: expect.stringContaining('.git alias'),
      });
    }
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('hides .git behind characters HFS+ ignores (zero-width joiners, BOM) so it is .git on a Mac', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const aliases = [
      '.g\u200cit/hooks/pre-commit',
      '.git\u200d/config',
      '\ufeff.git/hooks/post-checkout',
    ];
    const script = [
      ...aliases.map(
        (alias) => `mkdir -p "$(dirname ${shq(alias)})" && echo 'touch pwned' > ${shq(alias)}`,
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, POLICY_DENIED);
    const denied = deniedPaths(run);
    for (const alias of aliases) {
      expect(denied.get(alias), `${alias} denied`).toMatchObject({ kind: 'git-metadata' });
    }
    expect(eventsOf(run, 'gate.failed').map((e) => e.data.gate)).toContain('paths.forbidden');
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('uses Unicode look-alikes of .git (Cyrillic і, fullwidth ．, dotless ı): promoted only as the distinct names they are', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const lookalikes = [
      '.g\u0456t/hooks/pre-commit',
      '\uff0egit/hooks/pre-commit',
      '.g\u0131t/hooks/pre-commit',
    ];
    const script = [
      ...lookalikes.map(
        (path) =>
          `mkdir -p "$(dirname ${shq(path)})" && printf '#!/bin/sh\\ntouch pwned\\n' > ${shq(path)}`,
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual([...lookalikes, 'y.txt'].sort());
    // Applied to a checkout, the look-alikes stay ordinary directories: the clone's real
    // .git/hooks gets nothing.
    const clone = applyToClone(env, run);
    expect(existsSync(join(clone, '.git', 'hooks', 'pre-commit'))).toBe(false);
    for (const path of lookalikes) expect(existsSync(join(clone, path))).toBe(true);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('names a file so that its diff header would smuggle a hunk rewriting README.md', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    // Legal names (no `.git` segment): directories whose names carry newlines and a fake
    // header, so an unquoted header would read as a second diff that rewrites README.md.
    const injected = [
      'x',
      'diff --git a/README.md b/README.md',
      '--- a/README.md',
      '+++ b/README.md',
      '@@ -1 +1 @@',
      '-# demo',
      '+pwned by a file name',
    ].join('\n');
    const script = [
      `mkdir -p "$(dirname ${shq(injected)})"`,
      `printf 'content\\n' > ${shq(injected)}`,
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual([injected, 'y.txt'].sort());
    // git quotes the name in the header, so applying the artifact creates that one odd file
    // and leaves README.md as it was.
    const clone = applyToClone(env, run);
    expect(readFileSync(join(clone, 'README.md'), 'utf8')).toBe('# demo\n');
    expect(readFileSync(join(clone, injected), 'utf8')).toBe('content\n');
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('promotes symlinks into .git (.git/config, .GIT/hooks, src/../.git, `.git.`) and into forbidden files', async () => {
    const env = createHostileEnv({ '.env': 'TOKEN=committed\n', 'config/secrets.pem': 'PEM\n' });
    const before = captureHost(env);
    const links: Record<string, string> = {
      'cfg-link': '.git/config',
      'hooks-link': '.GIT/hooks',
      'head-link': 'src/../.git/HEAD',
      'dotgit-link': '.git.',
      'src/up-git': '../.git',
      'env-link': '.env',
      'pem-link': 'config/secrets.pem',
    };
    const script = [
      ...Object.entries(links).map(([link, target]) => `ln -s ${shq(target)} ${shq(link)}`),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, POLICY_DENIED);
    const denied = deniedPaths(run);
    for (const link of Object.keys(links)) {
      expect(denied.get(link), `${link} denied`).toMatchObject({ kind: 'symlink' });
    }
    expect(eventsOf(run, 'gate.failed').map((e) => e.data.gate)).toContain('symlinks');
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('promotes symlinks that leave the workspace (absolute, `..`, nested, a tracked file turned into a link)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const links: Record<string, string> = {
      'abs-link': '/etc/passwd',
      'canary-link': join(env.canary, 'secret.txt'),
      'up-link': '../outside',
      'src/nested-link': '../../x',
      'a/b/c/deep-link': '../../../../etc',
      'README.md': '/proc/self/environ',
    };
    const script = [
      'rm README.md',
      ...Object.entries(links).map(
        ([link, target]) =>
          `mkdir -p "$(dirname ${shq(link)})" && ln -s ${shq(target)} ${shq(link)}`,
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, POLICY_DENIED);
    const denied = deniedPaths(run);
    for (const link of Object.keys(links)) {
      expect(denied.get(link), `${link} denied`).toMatchObject({ kind: 'symlink' });
    }
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });
});

describe.skipIf(skipHostile)('adversarial: the agent edits forbidden paths', () => {
  const files = {
    '.env': 'TOKEN=committed\n',
    'config/secrets.pem': 'not really a key\n',
    'deploy/id.key': 'not really a key either\n',
  };

  it('renames forbidden files to innocent names (moving a secret out of a denied path)', async () => {
    const env = createHostileEnv(files);
    const before = captureHost(env);
    const run = await runHostile(
      env,
      'mv .env env.txt && mv config/secrets.pem config/notes.txt && echo ok > y.txt',
    );
    expectOutcome(env, run, POLICY_DENIED);
    const denied = deniedPaths(run);
    expect(denied.get('.env')).toMatchObject({
      kind: 'denied',
      layer: 'floor',
      rule: '**/.[eE][nN][vV]*',
    });
    expect(denied.get('config/secrets.pem')).toMatchObject({
      kind: 'denied',
      rule: '**/*.[pP][eE][mM]',
    });
    expect(run.outcome.patch).toBeNull();
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('edits forbidden files under a temporary name, then renames them back (and flips a mode bit)', async () => {
    const env = createHostileEnv(files);
    const before = captureHost(env);
    const script = [
      'mv config/secrets.pem notes.txt && echo evil >> notes.txt && mv notes.txt config/secrets.pem',
      'mv .env .env.bak && sed -i s/committed/stolen/ .env.bak && mv .env.bak .env',
      'chmod +x deploy/id.key',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, POLICY_DENIED);
    const denied = deniedPaths(run);
    expect([...denied.keys()].sort()).toEqual(['.env', 'config/secrets.pem', 'deploy/id.key']);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('writes case variants of forbidden names (.ENV, .Env.local, server.PEM, deploy.KEY)', async () => {
    const env = createHostileEnv(files);
    const before = captureHost(env);
    const variants = ['.ENV', 'config/.Env.local', 'certs/server.PEM', 'keys/deploy.KEY'];
    const script = [
      ...variants.map(
        (path) =>
          `mkdir -p "$(dirname ${shq(path)})" && echo 'PRIVATE KEY MATERIAL' > ${shq(path)}`,
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
    // On case-insensitive file systems (macOS, Windows) these are the very files the floor
    // forbids, and everywhere they are key material under another spelling.
    expectOutcome(env, run, POLICY_DENIED);
    const denied = deniedPaths(run);
    for (const path of variants) expect(denied.has(path), `${path} denied`).toBe(true);
  });

  it('smuggles files through runtime-artifact paths (node_modules, logs, __pycache__, coverage, .aas/policy.yaml)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const smuggled = [
      'node_modules/evil.js',
      'src/node_modules/pkg/index.js',
      'logs/x.log',
      'src/__pycache__/mod.cpython-312.pyc',
      'coverage/lcov.info',
      '.aas/policy.yaml',
      '.aas/agents/evil.yaml',
      'src/.DS_Store',
    ];
    const script = [
      ...smuggled.map(
        (path) => `mkdir -p "$(dirname ${shq(path)})" && echo 'network: full' > ${shq(path)}`,
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual(['y.txt']);
    const dropped = runtimeDropped(run).map((entry) => entry.path);
    for (const path of smuggled) expect(dropped, `${path} reported as dropped`).toContain(path);
    expect(patchText(run)).not.toContain('network: full');
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });
});
