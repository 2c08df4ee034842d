import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { limitEnforcement } from '../../src/sandbox/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * A host may cap AAS itself (a service's or a container's memory limit). The trees AAS starts
 * must stay under that cap, whatever their own limit, and a kill that the outer cap caused is
 * not the tree's own memory limit.
 */

const MIB = 1024 * 1024;
const MEMORY_ROOT = '/sys/fs/cgroup/memory';
const capped = (await limitEnforcement()).memory === 'cgroup';
if (!capped) console.warn('SKIPPED memory nesting test: this host cannot cap memory by cgroup');

function ownMemoryGroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((entry) => entry.split(':')[1]?.split(',').includes('memory'));
  return line?.split(':')[2] ?? '/';
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

describe.skipIf(!capped)('memory groups inside the group AAS runs in', () => {
  it('keeps the cap set on AAS over a tree whose own limit is higher, and does not blame the tree', () => {
    const dir = makeTempDir('aas-memory-nesting-');
    cleanups.push(() => removeDir(dir));
    const outer = join(MEMORY_ROOT, ownMemoryGroup(), `aas-outer-test-${process.pid}`);
    mkdirSync(outer);
    cleanups.push(() => {
      // The launcher made its own `aas` parent in there, as AAS does in the group it runs in.
      if (existsSync(join(outer, 'aas'))) rmdirSync(join(outer, 'aas'));
      writeFileSync(join(outer, 'memory.force_empty'), '0');
      rmdirSync(outer);
    });
    writeFileSync(join(outer, 'memory.limit_in_bytes'), String(256 * MIB));
    if (existsSync(join(outer, 'memory.memsw.limit_in_bytes'))) {
      writeFileSync(join(outer, 'memory.memsw.limit_in_bytes'), String(256 * MIB));
    }

    const script = join(dir, 'launcher.mts');
    const sandbox = resolve('src/sandbox/index.ts');
    const kernel = resolve('src/kernel/index.ts');
    writeFileSync(
      script,
      `import { systemClock } from ${JSON.stringify(kernel)};
import { createPlainBackend } from ${JSON.stringify(sandbox)};
const backend = createPlainBackend({ clock: systemClock });
const outcome = await backend.launch({
  command: '/bin/sh',
  // A string doubled until something gives: past 256 MiB long before its own 2 GiB.
  args: ['-c', 'awk \\'BEGIN { s = "x"; while (1) s = s s }\\''],
  cwd: ${JSON.stringify(dir)},
  env: { PATH: '/usr/bin:/bin' },
  timeoutMs: 60_000,
  stdoutPath: ${JSON.stringify(join(dir, 'out'))},
  stderrPath: ${JSON.stringify(join(dir, 'err'))},
  maxOutputBytes: 10_000,
  limits: { cpuSec: 60, maxProcesses: 40, maxFileBytes: 1 << 20, maxMemoryBytes: ${2048 * MIB} },
});
console.log(JSON.stringify(outcome));
`,
    );
    // The launcher joins the outer group before it execs node, as AAS would run in it.
    const result = spawnSync(
      '/bin/sh',
      [
        '-c',
        'echo $$ > "$1" && exec "$0" --import tsx "$2"',
        process.execPath,
        join(outer, 'cgroup.procs'),
        script,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as {
      exitCode: number | null;
      signal: string | null;
      limitHit: string | null;
    };
    // Killed by the outer cap: not run to its own 2 GiB, and not reported as its own limit.
    expect(outcome.exitCode === 0 && outcome.signal === null).toBe(false);
    expect(outcome.limitHit).toBeNull();
    // The outer group met its cap (its own failcnt and oom_kill count only its own tasks).
    const peakBytes = Number(readFileSync(join(outer, 'memory.max_usage_in_bytes'), 'utf8'));
    expect(peakBytes).toBeGreaterThan(250 * MIB);
  });
});
