import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError, ManualClock, systemClock } from '../../src/kernel/index.js';
import { createPlainBackend, type LaunchSpec } from '../../src/sandbox/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { eventually, isAlive, liveGroupMembers } from './process-probe.js';

const SH_ENV = { PATH: '/usr/bin:/bin' };

describe('plain sandbox backend', () => {
  let dir: string;
  const backend = createPlainBackend({ clock: systemClock });

  beforeEach(() => {
    dir = makeTempDir('aas-sandbox-');
  });
  afterEach(() => {
    removeDir(dir);
  });

  const spec = (overrides: Partial<LaunchSpec>): LaunchSpec => ({
    command: '/bin/sh',
    args: ['-c', 'true'],
    cwd: dir,
    env: SH_ENV,
    timeoutMs: 30_000,
    stdoutPath: join(dir, 'out', 'stdout.log'),
    stderrPath: join(dir, 'out', 'stderr.log'),
    maxOutputBytes: 1024 * 1024,
    ...overrides,
  });
  const sh = (script: string, overrides: Partial<LaunchSpec> = {}): LaunchSpec =>
    spec({ args: ['-c', script], ...overrides });
  const readOut = (): string => readFileSync(join(dir, 'out', 'stdout.log'), 'utf8');
  const readErr = (): string => readFileSync(join(dir, 'out', 'stderr.log'), 'utf8');
  const readPid = (name: string): number => Number(readFileSync(join(dir, name), 'utf8').trim());

  it('is a non-isolating backend whose self-test passes', async () => {
    expect(backend.name).toBe('plain');
    expect(backend.isolating).toBe(false);
    expect(await backend.selfTest()).toEqual({ ok: true });
  });

  it('reports exit codes and captures stdout and stderr into separate files', async () => {
    const ok = await backend.launch(sh('printf hello; printf oops >&2'));
    expect(ok).toMatchObject({ exitCode: 0, signal: null, timedOut: false, cancelled: false });
    expect(ok.outputLimitExceeded).toBe(false);
    expect(readOut()).toBe('hello');
    expect(readErr()).toBe('oops');
    expect(ok.stdoutBytes).toBe(5);
    expect(ok.stderrBytes).toBe(4);
    expect(ok.spawnError).toBeUndefined();

    const failed = await backend.launch(sh('exit 7'));
    expect(failed.exitCode).toBe(7);
  });

  it('reports death by signal', async () => {
    const outcome = await backend.launch(sh('kill -9 $$'));
    expect(outcome.exitCode).toBeNull();
    expect(outcome.signal).toBe('SIGKILL');
    expect(outcome.timedOut).toBe(false);
  });

  it('runs in the given cwd', async () => {
    await backend.launch(sh('pwd'));
    expect(readOut().trim()).toBe(dir);
  });

  it('passes exactly the given environment and nothing from the host', async () => {
    process.env.AAS_TEST_HOST_SECRET = 'must-not-leak';
    try {
      await backend.launch(
        spec({ command: '/usr/bin/env', args: [], env: { FOO: 'bar baz', PATH: '/nowhere' } }),
      );
      expect(readOut().split('\n').filter(Boolean).sort()).toEqual([
        'FOO=bar baz',
        'PATH=/nowhere',
      ]);

      await backend.launch(spec({ command: '/usr/bin/env', args: [], env: {} }));
      expect(readOut()).toBe('');
    } finally {
      delete process.env.AAS_TEST_HOST_SECRET;
    }
  });

  it('resolves only after the output is flushed to the files', async () => {
    const outcome = await backend.launch(
      sh('head -c 3000000 /dev/zero; head -c 1000 /dev/zero >&2', { maxOutputBytes: 10_000_000 }),
    );
    expect(outcome.exitCode).toBe(0);
    expect(statSync(join(dir, 'out', 'stdout.log')).size).toBe(3_000_000);
    expect(statSync(join(dir, 'out', 'stderr.log')).size).toBe(1000);
    expect(outcome.stdoutBytes).toBe(3_000_000);
  });

  it('on timeout kills the whole process group, grandchildren included', async () => {
    const outcome = await backend.launch(
      sh('echo $$ > leader.pid; sleep 1000 & echo $! > grandchild.pid; sleep 1000', {
        timeoutMs: 500,
      }),
    );
    expect(outcome.timedOut).toBe(true);
    expect(outcome.exitCode).toBeNull();
    expect(outcome.signal).toBe('SIGTERM');
    const leader = readPid('leader.pid');
    const grandchild = readPid('grandchild.pid');
    expect(leader).toBeGreaterThan(1);
    expect(await eventually(() => liveGroupMembers(leader).length === 0)).toBe(true);
    expect(isAlive(grandchild)).toBe(false);
  });

  it('escalates to SIGKILL after the grace period when SIGTERM is ignored', async () => {
    // `trap '' TERM` makes the shell and every child it starts ignore SIGTERM.
    const outcome = await backend.launch(
      sh("trap '' TERM; echo $$ > leader.pid; sleep 1000 & echo $! > grandchild.pid; sleep 1000", {
        timeoutMs: 500,
        killGraceMs: 300,
      }),
    );
    expect(outcome.timedOut).toBe(true);
    expect(outcome.signal).toBe('SIGKILL');
    expect(await eventually(() => liveGroupMembers(readPid('leader.pid')).length === 0)).toBe(true);
    expect(isAlive(readPid('grandchild.pid'))).toBe(false);
  });

  it('kills what the agent left behind in its group when it exits, even if it holds the pipes', async () => {
    const outcome = await backend.launch(
      sh('sleep 1000 & echo $! > grandchild.pid; echo done', { timeoutMs: 60_000 }),
    );
    expect(outcome.exitCode).toBe(0);
    expect(outcome.timedOut).toBe(false);
    expect(readOut()).toBe('done\n');
    expect(await eventually(() => !isAlive(readPid('grandchild.pid')))).toBe(true);
  });

  it('reports an overflow whether it is noticed before or after the writer exits', async () => {
    // 50 KB fit in the pipe buffer, so `head` may exit before the overflow is read.
    const outcome = await backend.launch(sh('head -c 50000 /dev/zero', { maxOutputBytes: 1000 }));
    expect(outcome.outputLimitExceeded).toBe(true);
    expect(outcome.stdoutBytes).toBe(1000);
  });

  it('does not wait forever for a descendant that left the group (a plain-backend limit)', async () => {
    const outcome = await backend.launch(
      sh("setsid sh -c 'echo $$ > escaped.pid; exec sleep 1000' & sleep 0.3; echo done"),
    );
    try {
      expect(outcome.exitCode).toBe(0);
      expect(readOut()).toBe('done\n');
      // Only an isolating backend (pid namespace) can reap this one; the plain backend cannot.
      expect(isAlive(readPid('escaped.pid'))).toBe(true);
    } finally {
      process.kill(readPid('escaped.pid'), 'SIGKILL');
    }
  });

  it('stops capture at the combined output cap and kills the group', async () => {
    const outcome = await backend.launch(
      sh('echo $$ > leader.pid; while :; do echo out-line; echo err-line >&2; done', {
        maxOutputBytes: 50_000,
      }),
    );
    expect(outcome.outputLimitExceeded).toBe(true);
    expect(outcome.timedOut).toBe(false);
    expect(outcome.stdoutBytes + outcome.stderrBytes).toBe(50_000);
    const onDisk =
      statSync(join(dir, 'out', 'stdout.log')).size + statSync(join(dir, 'out', 'stderr.log')).size;
    expect(onDisk).toBe(50_000);
    expect(await eventually(() => liveGroupMembers(readPid('leader.pid')).length === 0)).toBe(true);
  });

  it('does not flag output exactly at the cap', async () => {
    const outcome = await backend.launch(sh('printf 12345', { maxOutputBytes: 5 }));
    expect(outcome.outputLimitExceeded).toBe(false);
    expect(outcome.exitCode).toBe(0);
    expect(readOut()).toBe('12345');
  });

  it('reports a missing command as a spawn error, not an exception', async () => {
    const bare = await backend.launch(spec({ command: 'aas-no-such-command-xyz', args: [] }));
    expect(bare.spawnError).toMatch(/ENOENT/);
    expect(bare.exitCode).toBeNull();
    expect(bare.timedOut).toBe(false);

    const absolute = await backend.launch(spec({ command: '/nonexistent/agent', args: [] }));
    expect(absolute.spawnError).toMatch(/ENOENT/);
    // The capture files exist (empty) even when nothing ran.
    expect(readOut()).toBe('');
  });

  it('looks bare commands up on the PATH of the given environment', async () => {
    const found = await backend.launch(
      spec({ command: 'true', args: [], env: { PATH: '/usr/bin:/bin' } }),
    );
    expect(found.exitCode).toBe(0);
    const notFound = await backend.launch(spec({ command: 'true', args: [], env: { PATH: dir } }));
    expect(notFound.spawnError).toMatch(/ENOENT/);
  });

  it('reports a missing cwd and invalid arguments as spawn errors', async () => {
    const missingCwd = await backend.launch(spec({ cwd: join(dir, 'missing') }));
    expect(missingCwd.spawnError).toMatch(/working directory does not exist/);
    const nul = await backend.launch(sh('echo a\0b'));
    expect(nul.spawnError).toMatch(/null bytes/);
  });

  it('kills the group when the signal aborts', async () => {
    const controller = new AbortController();
    const running = backend.launch(
      sh('echo $$ > leader.pid; sleep 1000 & sleep 1000', { signal: controller.signal }),
    );
    expect(await eventually(() => existsSync(join(dir, 'leader.pid')))).toBe(true);
    controller.abort();
    const outcome = await running;
    expect(outcome.cancelled).toBe(true);
    expect(outcome.timedOut).toBe(false);
    expect(await eventually(() => liveGroupMembers(readPid('leader.pid')).length === 0)).toBe(true);
  });

  it('does not start anything when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const outcome = await backend.launch(sh('touch started', { signal: controller.signal }));
    expect(outcome.cancelled).toBe(true);
    expect(outcome.exitCode).toBeNull();
    expect(existsSync(join(dir, 'started'))).toBe(false);
  });

  it('does not follow a symlink planted at a capture path', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'original');
    mkdirSync(join(dir, 'out'), { recursive: true });
    symlinkSync(victim, join(dir, 'out', 'stdout.log'));
    await expect(backend.launch(sh('echo overwritten'))).rejects.toSatisfy(
      (error: unknown) => isAasError(error) && error.code === 'INTERNAL',
    );
    expect(readFileSync(victim, 'utf8')).toBe('original');
  });

  it('rejects an invalid launch spec as an internal error', async () => {
    await expect(backend.launch(sh('true', { timeoutMs: 0 }))).rejects.toSatisfy(
      (error: unknown) => isAasError(error) && error.code === 'INTERNAL',
    );
    await expect(backend.launch(sh('true', { maxOutputBytes: -1 }))).rejects.toThrow(
      /maxOutputBytes/,
    );
  });

  it('measures duration with the injected clock', async () => {
    const clock = new ManualClock();
    const outcome = await createPlainBackend({ clock }).launch(sh('true'));
    expect(outcome.durationMs).toBe(0);
  });
});
