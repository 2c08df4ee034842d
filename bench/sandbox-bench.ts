/**
 * Sandbox start-up overhead per process: the same short command (`/bin/true`) launched through
 * the plain backend and through bubblewrap, in the same run, with the confinement and limits a
 * real attempt gets. Overhead = sandboxed median − plain median.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/kernel/index.js';
import type {
  Confinement,
  LaunchSpec,
  ResourceLimits,
  SandboxBackend,
  SandboxNetwork,
} from '../src/sandbox/index.js';

/**
 * The compiled backend (`npm run bench` builds first), so the allow-list bridge starts as the
 * installed CLI starts it: plain node, not node with the TypeScript loader (≈ 4× slower).
 */
async function loadSandbox(): Promise<typeof import('../src/sandbox/index.js')> {
  const compiled = new URL('../dist/sandbox/index.js', import.meta.url);
  if (existsSync(fileURLToPath(compiled))) {
    return (await import(compiled.href)) as typeof import('../src/sandbox/index.js');
  }
  return import('../src/sandbox/index.js');
}

import type { ResultRow, ResultTable } from './report.js';
import { summarise } from './stats.js';

export interface SandboxBenchOptions {
  readonly warmups: number;
  readonly iterations: number;
  readonly progress: (line: string) => void;
}

const LIMITS: ResourceLimits = { cpuSec: 60, maxProcesses: 64, maxFileBytes: 1 << 26 };

export async function sandboxBench(options: SandboxBenchOptions): Promise<ResultTable[]> {
  const root = mkdtempSync(join(tmpdir(), 'aas-bench-sandbox-'));
  try {
    const workspace = join(root, 'workspace');
    const aep = join(root, 'aep');
    for (const dir of [workspace, join(aep, 'home'), join(aep, 'tmp')])
      mkdirSync(dir, { recursive: true });
    const confinement = (network: SandboxNetwork): Confinement => ({
      writablePaths: [workspace, aep],
      readOnlyPaths: [],
      tmpDir: join(aep, 'tmp'),
      homeDir: join(aep, 'home'),
      network,
      scratchDir: join(root, 'scratch'),
    });
    const spec = (extra: Partial<LaunchSpec>): LaunchSpec => ({
      command: '/bin/true',
      args: [],
      cwd: workspace,
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 30_000,
      stdoutPath: join(root, 'out.log'),
      stderrPath: join(root, 'err.log'),
      maxOutputBytes: 1 << 20,
      ...extra,
    });

    const { createBubblewrapBackend, createPlainBackend } = await loadSandbox();
    const plain = createPlainBackend({ clock: systemClock });
    const bwrap = createBubblewrapBackend({ clock: systemClock, nodePath: process.execPath });
    const selfTest = await bwrap.selfTest();
    if (!selfTest.ok) {
      return [
        {
          title: 'Sandbox start-up overhead per process',
          rows: [],
          notes: [],
          skipped: `bubblewrap unavailable: ${selfTest.reason}`,
        },
      ];
    }

    const measure = async (label: string, backend: SandboxBackend, launch: LaunchSpec) => {
      options.progress(`sandbox: ${label}`);
      const samples: number[] = [];
      for (let i = 0; i < options.warmups + options.iterations; i += 1) {
        const started = performance.now();
        const outcome = await backend.launch(launch);
        const elapsed = performance.now() - started;
        if (outcome.exitCode !== 0) {
          throw new Error(`${label}: /bin/true exited ${outcome.exitCode}: ${outcome.spawnError}`);
        }
        if (i >= options.warmups) samples.push(elapsed);
      }
      return samples;
    };

    const plainBare = await measure('plain, no limits', plain, spec({}));
    const plainLimits = await measure('plain + limits', plain, spec({ limits: LIMITS }));
    const bwrapDisabled = await measure(
      'bubblewrap, network disabled',
      bwrap,
      spec({ confinement: confinement({ mode: 'disabled' }), limits: LIMITS }),
    );
    const bwrapAllowlist = await measure(
      'bubblewrap, allow-list (proxy + bridge)',
      bwrap,
      spec({
        confinement: confinement({
          mode: 'allowlist',
          decide: () => false,
          onDecision: () => undefined,
        }),
        limits: LIMITS,
      }),
    );

    const plainMedian = summarise(plainBare).median;
    const overhead = (samples: readonly number[]) => samples.map((ms) => ms - plainMedian);
    const rows: ResultRow[] = [
      { metric: 'plain backend: /bin/true', unit: 'ms', samples: plainBare },
      { metric: 'plain backend + limits (cgroups, prlimit)', unit: 'ms', samples: plainLimits },
      { metric: 'bubblewrap, network disabled', unit: 'ms', samples: bwrapDisabled },
      {
        metric: 'bubblewrap overhead vs plain (network disabled)',
        unit: 'ms',
        samples: overhead(bwrapDisabled),
        target: { op: '<=', value: 30 },
      },
      { metric: 'bubblewrap, allow-list (proxy + bridge)', unit: 'ms', samples: bwrapAllowlist },
      {
        metric: 'bubblewrap overhead vs plain (allow-list)',
        unit: 'ms',
        samples: overhead(bwrapAllowlist),
      },
    ];
    const ratio = summarise(bwrapDisabled).median / plainMedian;
    return [
      {
        title: 'Sandbox start-up overhead per process',
        rows,
        notes: [
          `${options.iterations} launches each after ${options.warmups} warm-ups; overhead rows subtract the plain median.`,
          `bubblewrap (network disabled) / plain = ${ratio.toFixed(2)}x.`,
          'The allow-list row includes starting the egress proxy and the in-sandbox bridge (a node process); only runs whose policy lists hosts pay it.',
        ],
      },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
