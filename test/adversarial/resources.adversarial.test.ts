import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { limitEnforcement } from '../../src/sandbox/index.js';
import { CLI_PATH } from '../helpers/run-cli.js';
import {
  agentFailure,
  agentLogs,
  attemptDir,
  captureHost,
  createHostileEnv,
  deniedPaths,
  disposeHostileEnvs,
  expectAgentFinished,
  expectGateFailed,
  expectHostUnchanged,
  expectNoSecretLeak,
  expectOutcome,
  GATE_FAILED,
  type HostileEnv,
  type HostileRun,
  POLICY_DENIED,
  patchPaths,
  patchText,
  processesMentioning,
  READY,
  runHostile,
  shq,
  skipHostile,
  sleep,
} from './hostile-fixture.js';

const victims: ChildProcess[] = [];
afterAll(() => {
  for (const victim of victims) victim.kill('SIGKILL');
  disposeHostileEnvs();
});

const MIB = 1024 * 1024;
const memoryUncapped = (await limitEnforcement()).memory === 'none';
if (memoryUncapped && !skipHostile) {
  console.warn('SKIPPED memory hoarding test: this host has no writable cgroup memory controller');
}

/** A long-lived host process the agent is told the pid of. */
function startVictim(): ChildProcess {
  const victim = spawn('sleep', ['600'], { stdio: 'ignore' });
  victims.push(victim);
  return victim;
}

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * No process of the run is left: the token is in the agent's command line, so every shell the
 * agent forked (and every daemon it started with `sh -c`) would show it.
 */
async function expectNoSurvivors(env: HostileEnv): Promise<void> {
  await sleep(200);
  expect(processesMentioning(env.token)).toEqual([]);
}

function expectFailedWith(env: HostileEnv, run: HostileRun, code: string): void {
  expectOutcome(env, run, agentFailure(code));
  expectAgentFinished(run, code);
  expect(run.outcome.patch).toBeNull();
}

/**
 * The agent runs `body` under the job's `limits`: the run ends failed with `code`, no process
 * of it is left, the host is unchanged and no secret leaked.
 */
async function expectStoppedBy(
  body: string,
  limits: Readonly<Record<string, number>>,
  code: string,
): Promise<void> {
  const env = createHostileEnv();
  const before = captureHost(env);
  const run = await runHostile(env, `# ${env.token}\n${body}`, { policy: { limits } });
  expectFailedWith(env, run, code);
  await expectNoSurvivors(env);
  expectHostUnchanged(env, before);
  expectNoSecretLeak(env, run);
}

describe.skipIf(skipHostile)('adversarial: the agent exhausts resources', () => {
  it('fork-bombs (maxProcesses: 64)', () =>
    expectStoppedBy(
      'bomb() { bomb | bomb & }; bomb; sleep 30',
      { maxProcesses: 64, timeoutSec: 30 },
      'AGENT_PROCESS_LIMIT',
    ));

  it.skipIf(memoryUncapped)(
    'hoards memory in a child process (maxMemoryBytes: 64 MiB)',
    // The hog is a child of the agent's shell, which survives it: the run still ends on the limit.
    () =>
      expectStoppedBy(
        `awk 'BEGIN { s = "x"; while (1) s = s s }'\necho survived > survived.txt`,
        { maxMemoryBytes: 64 * MIB, timeoutSec: 60 },
        'AGENT_MEMORY_LIMIT',
      ),
  );

  it('fills the disk through its workspace (maxWorkspaceGrowthBytes: 1 MiB)', () =>
    expectStoppedBy(
      'while :; do head -c 65536 /dev/zero >> fill.bin || exit 1; done',
      { maxWorkspaceGrowthBytes: MIB, timeoutSec: 60 },
      'WORKSPACE_GROWTH_LIMIT',
    ));

  // Each one still takes an inode: counted as a block, 20,000 of them are 80 MiB of growth.
  it('creates empty files by the thousand, which take no data block (maxWorkspaceGrowthBytes: 1 MiB)', () =>
    expectStoppedBy(
      'mkdir d && cd d && seq 1 20000 | xargs touch; sleep 5',
      { maxWorkspaceGrowthBytes: MIB, timeoutSec: 60 },
      'WORKSPACE_GROWTH_LIMIT',
    ));

  it('fills the disk through its HOME and TMPDIR instead of the workspace', () =>
    expectStoppedBy(
      'while :; do head -c 65536 /dev/zero >> "$HOME/fill.bin"; head -c 65536 /dev/zero >> "$TMPDIR/fill.bin"; done',
      { maxWorkspaceGrowthBytes: MIB, timeoutSec: 60 },
      'WORKSPACE_GROWTH_LIMIT',
    ));

  it('writes a burst into TMPDIR and exits before the growth watcher polls', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const script = [`# ${env.token}`, 'head -c 50000000 /dev/zero > "$TMPDIR/burst.bin"'].join(
      '\n',
    );
    const run = await runHostile(env, script, {
      policy: { limits: { maxWorkspaceGrowthBytes: MIB, timeoutSec: 60 } },
    });
    // Measured once more after the exit; the bytes go with the attempt's TMPDIR.
    expectFailedWith(env, run, 'WORKSPACE_GROWTH_LIMIT');
    expect([...run.files.keys()].some((path) => path.endsWith('burst.bin'))).toBe(false);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('fills memory-backed file systems (/tmp, /dev/shm) that the growth limit does not walk', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const script = [
      `# ${env.token}`,
      'head -c 2097152 /dev/zero > /tmp/fill.bin && echo "tmp=written" > shm.txt || echo "tmp=refused" > shm.txt',
      'i=0',
      'while [ $i -lt 8 ]; do head -c 33554432 /dev/zero > /dev/shm/fill$i || break; i=$((i+1)); done',
      'echo "shm-files=$i" >> shm.txt',
      'df -k /tmp /dev/shm >> shm.txt',
      'sleep 1',
    ].join('\n');
    const run = await runHostile(env, script, {
      policy: {
        limits: { maxWorkspaceGrowthBytes: MIB, maxFileBytes: 64 * MIB, timeoutSec: 60 },
      },
    });
    await expectNoSurvivors(env);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
    // Either the run is stopped for growth, or every memory-backed write past the cap fails:
    // 256 MiB of RAM must not be usable under a 1 MiB growth limit.
    if (run.outcome.reasonCode === 'WORKSPACE_GROWTH_LIMIT') {
      expectFailedWith(env, run, 'WORKSPACE_GROWTH_LIMIT');
    } else {
      expectOutcome(env, run, READY);
      const report = patchText(run);
      expect(report, report).toContain('tmp=refused');
      expect(report, report).toContain('shm-files=0');
    }
  });

  it('hides disk usage in deleted files it keeps open (maxWorkspaceGrowthBytes: 1 MiB)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const script = [
      `# ${env.token}`,
      'for fd in 3 4 5 6; do',
      '  eval "exec $fd>held-$fd" && rm "held-$fd"',
      '  head -c 50000000 /dev/zero >&$fd || break',
      'done',
      'df -k . >&2',
      // Long enough for several polls of the growth monitor.
      'sleep 2',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(env, script, {
      policy: {
        limits: { maxWorkspaceGrowthBytes: MIB, maxFileBytes: 64 * MIB, timeoutSec: 60 },
      },
    });
    await expectNoSurvivors(env);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
    // 200 MB written to the workspace's file system is growth, whether or not a name is left.
    expectFailedWith(env, run, 'WORKSPACE_GROWTH_LIMIT');
  });

  it('writes a file over maxFileBytes (1 MiB)', () =>
    expectStoppedBy(
      'head -c 4000000 /dev/zero > big.bin',
      { maxFileBytes: MIB, timeoutSec: 60 },
      'AGENT_FILE_SIZE_LIMIT',
    ));

  it('has a child write past maxFileBytes (1 MiB) and reports success all the same', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    // The kernel stops the write at the limit and kills only the writer (`tr`): the shell goes
    // on and exits 0, leaving big.bin cut at exactly 1 MiB. The file-size gate refuses it.
    const run = await runHostile(
      env,
      `# ${env.token}\nhead -c 4000000 /dev/zero | tr '\\0' x > big.bin; echo ok > y.txt; true`,
      { policy: { limits: { maxFileBytes: MIB, timeoutSec: 60 } } },
    );
    expectGateFailed(run, 'limits.fileSize', 'AGENT_FILE_SIZE_LIMIT');
    await expectNoSurvivors(env);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('creates a sparse file claiming 100 GiB (maxFileBytes: 1 MiB), then carries on', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const run = await runHostile(
      env,
      `# ${env.token}\ntruncate -s 100G sparse.bin; dd if=/dev/zero of=holes.bin bs=1 count=1 seek=10G 2>&1; echo ok > y.txt`,
      { policy: { limits: { maxFileBytes: MIB, timeoutSec: 60 } } },
    );
    // The kernel refuses the size (the writer dies of SIGXFSZ); the agent itself goes on, so the
    // run is judged on what is left: two empty files and y.txt, nothing claiming gigabytes.
    expectOutcome(env, run, READY);
    const files = run.outcome.patch?.files ?? [];
    expect(files.map((f) => `${f.path} +${f.insertions ?? 0}`).sort()).toEqual([
      'holes.bin +0',
      'sparse.bin +0',
      'y.txt +1',
    ]);
    await expectNoSurvivors(env);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('floods stdout and stderr (maxOutputBytes: 64 KiB)', () =>
    expectStoppedBy(
      'yes stdout-flood & yes stderr-flood >&2 & wait',
      { maxOutputBytes: 65_536, timeoutSec: 60 },
      'AGENT_OUTPUT_LIMIT',
    ));

  it('sleeps past its timeout while ignoring SIGTERM (timeoutSec: 2)', () =>
    expectStoppedBy(
      [
        "trap '' TERM INT HUP",
        'echo ok > y.txt',
        "(trap '' TERM INT HUP; while :; do sleep 1; done) &",
        'while :; do sleep 1; done',
      ].join('\n'),
      { timeoutSec: 2 },
      'AGENT_TIMEOUT',
    ));

  it('burns CPU in several processes (cpuSec: 1)', () =>
    expectStoppedBy(
      '(while :; do :; done) & (while :; do :; done) & wait',
      { cpuSec: 1, timeoutSec: 60 },
      'AGENT_CPU_LIMIT',
    ));
});

describe.skipIf(skipHostile)(
  'adversarial: the agent tries to outlive or disturb the runner',
  () => {
    it('daemonises (setsid, nohup, ignored SIGHUP/SIGTERM) to write after the run has ended', async () => {
      const env = createHostileEnv();
      const before = captureHost(env);
      const late = `late-${env.token}`;
      const script = [
        `setsid nohup sh -c 'sleep 2; echo late > "$AEP_RUN_DIR/${late}-setsid"; echo late > ${env.canary}/planted-${env.token}' >/dev/null 2>&1 &`,
        `(trap '' HUP TERM INT; sleep 3; echo late > "$AEP_RUN_DIR/${late}-subshell") &`,
        `nohup sh -c 'trap "" HUP TERM; sleep 2; echo late > /dev/shm/planted-${env.token}' >/dev/null 2>&1 &`,
        'echo ok > y.txt',
      ].join('\n');
      const run = await runHostile(env, script);
      expectOutcome(env, run, READY);
      expect(patchPaths(run)).toEqual(['y.txt']);
      // Right after the run: nothing of it is alive. Well after: nothing was written late.
      await expectNoSurvivors(env);
      await sleep(3500);
      expect(processesMentioning(env.token)).toEqual([]);
      const dir = attemptDir(env, run);
      // The AEP dir outlives the workspace, so a late write would still be there.
      expect(existsSync(join(dir, 'aep', `${late}-setsid`))).toBe(false);
      expect(existsSync(join(dir, 'aep', `${late}-subshell`))).toBe(false);
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run);
    });

    it('signals its parent and everything it can (kill -9 $PPID, kill -1, a host victim, the CLI pid from a file outside)', async () => {
      const env = createHostileEnv();
      const victim = startVictim();
      const pidFile = join(env.configDir, 'cli.pid');
      const before = captureHost(env);
      const script = [
        `# ${env.token}`,
        `for i in 1 2 3 4 5 6 7 8 9 10; do [ -s ${shq(pidFile)} ] && break; sleep 0.1; done`,
        `cli=$(cat ${shq(pidFile)} 2>&1); echo "cli pid: $cli"`,
        'kill -TERM "$cli" 2>&1; kill -KILL "$cli" 2>&1',
        `kill -KILL ${victim.pid} 2>&1; kill -STOP ${victim.pid} 2>&1`,
        `kill -KILL ${process.pid} 2>&1`,
        'kill -9 $PPID 2>&1; kill -TERM -1 2>&1; kill -KILL -1 2>&1',
        'echo ok > y.txt',
      ].join('\n');
      const pending = runHostile(env, script);
      // Tell the file system (not the agent) who the CLI is, as soon as it runs.
      for (let i = 0; i < 100; i += 1) {
        const cli = processesMentioning(env.token).find((line) => line.includes(CLI_PATH));
        if (cli !== undefined) {
          writeFileSync(pidFile, cli.split(':')[0] ?? '');
          break;
        }
        await sleep(20);
      }
      const run = await pending;
      expectOutcome(env, run, READY);
      expect(patchPaths(run)).toEqual(['y.txt']);
      expect(isAlive(victim)).toBe(true);
      await expectNoSurvivors(env);
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run);
    });

    it('ptraces pid 1 of its sandbox and a host process (strace, gdb) to run code outside', async () => {
      const env = createHostileEnv();
      const victim = startVictim();
      const before = captureHost(env);
      const planted = join(env.canary, `planted-${env.token}`);
      const script = [
        `# ${env.token}`,
        'strace -f -p 1 -o /dev/null 2>&1 & sleep 0.3; kill $! 2>/dev/null',
        `gdb -p 1 -batch -ex 'call (int)system("touch ${planted}")' 2>&1 | tail -3`,
        `gdb -p ${victim.pid} -batch -ex 'call (int)system("touch ${planted}")' 2>&1 | tail -3`,
        `strace -p ${victim.pid} -o /dev/null 2>&1 & sleep 0.3; kill $! 2>/dev/null`,
        'echo ok > y.txt',
      ].join('\n');
      const run = await runHostile(env, script);
      expectOutcome(env, run, READY);
      expect(patchPaths(run)).toEqual(['y.txt']);
      expect(isAlive(victim)).toBe(true);
      await expectNoSurvivors(env);
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run);
    });

    it('pushes keystrokes into a terminal with TIOCSTI (/dev/tty, /dev/console, its own fds)', async () => {
      const env = createHostileEnv();
      const before = captureHost(env);
      const perl = [
        'for my $f ("/dev/tty", "/dev/console", "/proc/1/fd/0") {',
        '  if (open(my $t, "+<", $f)) { my $r = ioctl($t, 0x5412, "x"); print "$f ioctl=" . (defined $r ? "ok" : "failed") . "\\n" }',
        '  else { print "$f open=failed\\n" }',
        '}',
        'for my $fd (0, 1, 2) {',
        '  open(my $t, "+<&=", $fd) or next; my $r = ioctl($t, 0x5412, "x");',
        '  print "fd$fd ioctl=" . (defined $r ? "ok" : "failed") . "\\n";',
        '}',
      ].join(' ');
      const run = await runHostile(env, `perl -e ${shq(perl)} > tty.txt 2>&1; true`);
      expectOutcome(env, run, READY);
      const report = patchText(run);
      expect(report, agentLogs(env, run)).toContain('/dev/tty');
      expect(report).not.toContain('ioctl=ok');
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run);
    });
  },
);

describe.skipIf(skipHostile)('adversarial: the agent produces patches no gate should pass', () => {
  it('adds a binary file (binaryChanges defaults to false)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const run = await runHostile(
      env,
      "printf '\\000\\001\\002\\377ELF' > blob.bin; echo ok > y.txt",
    );
    expectOutcome(env, run, POLICY_DENIED);
    expectGateFailed(run, 'binary.changes', 'POLICY_DENIED');
    expect(deniedPaths(run).get('blob.bin')).toMatchObject({ kind: 'binary' });
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('floods the patch with files and lines (maxChangedFiles: 5, maxPatchLines: 100)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const run = await runHostile(
      env,
      'for i in $(seq 1 50); do echo $i > f$i.txt; done; seq 1 5000 > big.txt',
      { policy: { limits: { maxChangedFiles: 5, maxPatchLines: 100 } } },
    );
    expectOutcome(env, run, GATE_FAILED);
    expectGateFailed(run, 'limits.changedFiles', 'GATE_FAILED');
    expectGateFailed(run, 'limits.patchLines', 'GATE_FAILED');
    expect(run.outcome.patch).toBeNull();
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });
});
