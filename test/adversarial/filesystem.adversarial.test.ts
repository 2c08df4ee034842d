import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import {
  agentFailure,
  agentLogs,
  captureHost,
  createHostileEnv,
  deniedPaths,
  disposeHostileEnvs,
  eventsOf,
  expectAgentFinished,
  expectHostUnchanged,
  expectNoSecretLeak,
  expectOutcome,
  newSecret,
  outsideTargets,
  POLICY_DENIED,
  patchPaths,
  patchText,
  READY,
  runHostile,
  shq,
  skipHostile,
  writeAgentManifest,
} from './hostile-fixture.js';

afterAll(disposeHostileEnvs);

describe.skipIf(skipHostile)('adversarial: the agent reaches for the host file system', () => {
  it('writes to absolute host paths (canary dir, the repo and its .git, AAS_HOME, HOME, /tmp, /etc, /usr)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const targets = [
      ...outsideTargets(env),
      `/etc/planted-${env.token}`,
      `/usr/planted-${env.token}`,
      `/planted-${env.token}`,
    ];
    const script = [
      `for target in ${targets.map(shq).join(' ')}; do`,
      '  mkdir -p "$(dirname "$target")" 2>/dev/null',
      '  if echo pwned > "$target"; then echo "wrote $target"; else echo "refused $target"; fi',
      'done',
      `printf '[core]\\n\\tfsmonitor = touch ${env.canary}/fsmonitor-${env.token}\\n' >> ${shq(join(env.repo, '.git', 'config'))}`,
      `chmod 777 ${shq(env.canary)} ${shq(env.repo)}`,
      `rm -rf ${shq(join(env.repo, 'src'))} ${shq(join(env.canary, 'secret.txt'))}`,
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual(['y.txt']);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('climbs out of the workspace with `..` (relative paths into the attempt, run, data and canary dirs)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const planted = `planted-${env.token}`;
    const script = [
      "up=$(printf '../%.0s' $(seq 1 32))",
      `for rel in ${[env.canary, env.repo, `${env.repo}/.git/hooks`, env.home, env.fakeHome].map((p) => shq(p.slice(1))).join(' ')}; do`,
      `  echo pwned > "$up$rel/${planted}" && echo "wrote $rel"`,
      'done',
      `echo pwned > ../${planted}; echo pwned > ../../${planted}; echo pwned > ../../../${planted}`,
      `mkdir -p ../../../../${planted}-dir && echo pwned > ../../../../${planted}-dir/x`,
      `(cd .. && echo pwned > ${planted}-cd && ls -la)`,
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual(['y.txt']);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('writes through symlinks it plants (to the canary dir, the repo .git, /, /proc/1/root), then leaves them for removal to follow', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const planted = `planted-${env.token}`;
    const script = [
      `ln -s ${shq(env.canary)} out-canary; echo pwned > out-canary/${planted}`,
      `ln -s ${shq(join(env.repo, '.git'))} out-git; echo pwned > out-git/hooks/post-checkout`,
      `ln -s ${shq(env.fakeHome)} out-home; echo pwned > out-home/${planted}`,
      'ln -s ../../../../../../../../../../.. up; echo pwned > up/tmp/planted-up',
      'ln -s /proc/1/root rootlink',
      // Removing the workspace must delete these links, never what they point at.
      `mkdir -p deep/er; ln -s ${shq(env.canary)} deep/er/canary-dir`,
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, POLICY_DENIED);
    const denied = deniedPaths(run);
    for (const link of [
      'out-canary',
      'out-git',
      'out-home',
      'up',
      'rootlink',
      'deep/er/canary-dir',
    ]) {
      expect(denied.get(link), `${link} denied`).toMatchObject({ kind: 'symlink' });
    }
    expect(eventsOf(run, 'workspace.removed')).toHaveLength(1);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('hard-links host files (/etc, /usr, its own job.json, /proc) to write through them', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const sources = [
      '/etc/hosts',
      '/etc/passwd',
      '/etc/ld.so.cache',
      '/usr/bin/env',
      '$AEP_JOB_SPEC',
      '/proc/self/environ',
      join(env.canary, 'secret.txt'),
      join(env.repo, 'README.md'),
      join(env.repo, '.git', 'config'),
    ];
    const script = [
      'i=0',
      `for src in ${sources.map((s) => (s.startsWith('$') ? `"${s}"` : shq(s))).join(' ')}; do`,
      '  i=$((i+1))',
      '  if ln "$src" "hl-$i" 2>/dev/null; then echo "linked $src"; echo pwned >> "hl-$i"; fi',
      'done',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run), agentLogs(env, run)).toEqual(['y.txt']);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('edits base files in place (append, dd notrunc, a hard link inside the workspace) hoping to poison the shared checkout', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const poison = [
      'echo pwned-append >> README.md',
      "printf 'XX' | dd of=src/app.js bs=1 count=2 conv=notrunc 2>/dev/null",
      'ln README.md hardlinked.md && echo pwned-through-link >> hardlinked.md',
      'touch -d 2001-01-01 src/app.js',
    ].join('\n');
    const first = await runHostile(env, poison);
    expectOutcome(env, first, READY);
    expect(patchPaths(first)).toEqual(['README.md', 'hardlinked.md', 'src/app.js']);
    // A second run on the same base must start from the committed files, not the poisoned ones.
    const second = await runHostile(env, 'cat README.md src/app.js > seen.txt');
    expectOutcome(env, second, READY);
    const seen = patchText(second)
      .split('\n')
      .filter((line) => line.startsWith('+') && !line.startsWith('+++'))
      .map((line) => line.slice(1));
    expect(seen).toEqual(['# demo', 'export const answer = 41;']);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, second);
  });

  it('uses /proc/self/cwd, /proc/self/root, /proc/1/root and /proc/1/cwd to step outside', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const planted = `planted-${env.token}`;
    const script = [
      `echo pwned > /proc/self/cwd/../${planted}`,
      `echo pwned > /proc/self/cwd/../../../${planted}`,
      `echo pwned > /proc/1/cwd/../../${planted}`,
      `echo pwned > /proc/1/root/tmp/${planted}`,
      `echo pwned > /proc/self/root${env.canary}/${planted}`,
      `echo pwned > /proc/1/root${env.canary}/${planted}`,
      `echo pwned > /proc/1/root${env.repo}/.git/hooks/pre-commit`,
      `cat /proc/1/root${env.canary}/secret.txt`,
      'cat /proc/self/mountinfo',
      'ls -la /proc/1/fd /proc/1/root/',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual(['y.txt']);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it("is installed beside the host's files, hoping its install directory shows its neighbours", async () => {
    const env = createHostileEnv();
    // An operator installed the agent at <canary>/tools/agent.sh: the sandbox shows that
    // directory, not its parent, which holds secret.txt.
    const tools = join(env.canary, 'tools');
    mkdirSync(tools);
    const entrypoint = join(tools, 'agent.sh');
    writeFileSync(
      entrypoint,
      [
        '#!/bin/sh',
        'here=$(dirname "$0")',
        'cat "$here/../secret.txt"',
        'ls -la "$here/.."',
        'cat /etc/shadow',
        'echo ok > y.txt',
      ].join('\n'),
      { mode: 0o755 },
    );
    mkdirSync(join(env.home, 'agents'), { recursive: true });
    writeFileSync(
      join(env.home, 'agents', 'installed.yaml'),
      JSON.stringify({ id: 'installed', entrypoint, result: 'exit-code' }),
    );
    const before = captureHost(env);
    const run = await runHostile(env, null, { agent: 'installed' });
    expectOutcome(env, run, READY);
    expect(patchPaths(run)).toEqual(['y.txt']);
    expect(agentLogs(env, run)).toMatch(/secret\.txt: No such file|can't open|cannot open/);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('creates device nodes, FIFOs and sockets, and writes to /dev/shm', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const planted = `planted-${env.token}`;
    const script = [
      `echo pwned > /dev/shm/${planted}`,
      'mknod kmem c 1 2 && echo "mknod worked"',
      'mknod disk b 8 0 && echo "mknod block worked"',
      'mkfifo pipe',
      "node -e \"require('net').createServer().listen('sock', () => process.exit(0))\"",
      'ls -la',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script);
    expectOutcome(env, run, READY);
    // Devices cannot be made; a FIFO or socket is not something git can promote.
    expect(patchPaths(run)).toEqual(['y.txt']);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('tries to replace its own workspace directory by a symlink to / (so the patch would sweep up host files)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const script = [
      'rm -rf ./* ./.[!.]* 2>/dev/null',
      'cd ..',
      'mv workspace workspace-old 2>&1',
      'rm -rf workspace 2>&1',
      'rmdir workspace 2>&1',
      'ln -s / workspace 2>&1',
      `ln -s ${shq(env.canary)} workspace/escape 2>&1`,
      'ls -la',
      'true',
    ].join('\n');
    const run = await runHostile(env, script);
    // The directory itself cannot be swapped: what remains is a patch deleting the base files
    // and one escaping link the symlink gate refuses; no host file can enter the patch.
    expectOutcome(env, run, POLICY_DENIED);
    const computed = eventsOf(run, 'patch.computed')[0]?.data.files as {
      path: string;
      status: string;
    }[];
    expect(computed.map((f) => `${f.status} ${f.path}`).sort()).toEqual([
      'added escape',
      'deleted README.md',
      'deleted src/app.js',
    ]);
    expect(deniedPaths(run).get('escape')).toMatchObject({ kind: 'symlink' });
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('replaces its AEP files by symlinks to host files (result, event log, job.json, home, tmp), then `aas gc` runs', async () => {
    const env = createHostileEnv();
    const bait = newSecret('bait');
    writeFileSync(
      join(env.canary, 'bait-result.json'),
      JSON.stringify({ status: 'succeeded', summary: bait.value }),
    );
    writeFileSync(
      join(env.canary, 'bait-events.ndjson'),
      `${JSON.stringify({ type: 'progress', message: bait.value })}\n`,
    );
    const script = [
      'echo ok > y.txt',
      `rm -f "$AEP_RESULT_PATH"; ln -s ${shq(join(env.canary, 'bait-result.json'))} "$AEP_RESULT_PATH"`,
      `rm -f "$AEP_EVENT_LOG"; ln -s ${shq(join(env.canary, 'bait-events.ndjson'))} "$AEP_EVENT_LOG"`,
      `rm -f "$AEP_JOB_SPEC"; ln -s ${shq(join(env.canary, 'secret.txt'))} "$AEP_JOB_SPEC"`,
      'for d in home tmp artifacts; do',
      `  rm -rf "$AEP_RUN_DIR/$d"; ln -s ${shq(env.canary)} "$AEP_RUN_DIR/$d"`,
      'done',
      `ln -s ${shq(env.canary)} "$AEP_RUN_DIR/link-to-canary"`,
    ].join('\n');
    writeAgentManifest(env, 'aeplinks', script, 'file');
    const before = captureHost(env);
    const run = await runHostile(env, null, { agent: 'aeplinks' });
    expectOutcome(env, run, agentFailure('DRIVER_RESULT_INVALID'));
    expectAgentFinished(run, 'DRIVER_RESULT_INVALID');
    expect(run.outcome.detail).toContain('symbolic link');
    expect(eventsOf(run, 'agent.event').filter((e) => e.data.type === 'progress')).toEqual([]);
    // Cleanup of the attempt must delete the links, not follow them into the canary dir.
    const gc = await runCli(['gc', '--json'], { home: env.home, env: env.cliEnv });
    expect(gc.code, gc.stderr).toBe(0);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run, { secrets: [bait] });
  });

  it('turns its result file and event log into FIFOs, hoping to hang the runner', async () => {
    const env = createHostileEnv();
    writeAgentManifest(
      env,
      'fifos',
      'echo ok > y.txt; rm -f "$AEP_EVENT_LOG"; mkfifo "$AEP_EVENT_LOG"; mkfifo "$AEP_RESULT_PATH"',
      'file',
    );
    const before = captureHost(env);
    const run = await runHostile(env, null, { agent: 'fifos' });
    expectOutcome(env, run, agentFailure('DRIVER_RESULT_INVALID'));
    expect(run.outcome.detail).toContain('not a regular file');
    const rejected = eventsOf(run, 'agent.event').find(
      (e) => e.data.type === 'aep.events.rejected',
    );
    expect(JSON.stringify(rejected?.data.data)).toContain('not a regular file');
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });
});
