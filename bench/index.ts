/**
 * AAS benchmarks: `npm run bench` (all sections) or `npm run bench -- run|events|replay|queue|fleet|promotion|gateway|workspace|sandbox|api|panel`.
 * Prints one table of medians per measurement and writes bench/out/results.json.
 * AAS_BENCH_QUICK=1 shrinks every section for a smoke run; see bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { apiBench } from './api-bench.js';
import { eventBench } from './event-bench.js';
import { fleetBench } from './fleet-bench.js';
import { gatewayBench } from './gateway-bench.js';
import { panelBench } from './panel-bench.js';
import { promotionBench } from './promotion-bench.js';
import { queueBench } from './queue-bench.js';
import { replayBench } from './replay-bench.js';
import { formatTable, passes, type ResultTable, tableToJson } from './report.js';
import { runBench } from './run-bench.js';
import { sandboxBench } from './sandbox-bench.js';
import { workspaceBench } from './workspace-bench.js';

const SECTIONS = [
  'run',
  'events',
  'replay',
  'queue',
  'fleet',
  'promotion',
  'gateway',
  'workspace',
  'sandbox',
  'api',
  'panel',
] as const;
type Section = (typeof SECTIONS)[number];

function isSection(value: string): value is Section {
  return (SECTIONS as readonly string[]).includes(value);
}

const env = process.env;
const quick = env.AAS_BENCH_QUICK === '1';
const progress = (line: string) => process.stderr.write(`  ${line}\n`);

const runners: Record<Section, () => Promise<ResultTable[]>> = {
  run: () =>
    runBench({
      smallWarmups: quick ? 1 : 2,
      smallIterations: quick ? 3 : 15,
      largeWarmups: quick ? 0 : 1,
      largeIterations: quick ? 1 : 5,
      largeFiles: positiveInt(env.AAS_BENCH_LARGE_FILES) ?? (quick ? 2_000 : 20_000),
      agent: env.AAS_BENCH_AGENT === 'builtin' ? 'builtin' : 'compiled',
      progress,
    }),
  events: () =>
    eventBench({
      eventsPerRep: quick ? 1_000 : 5_000,
      postgresSingleEventsPerRep: quick ? 200 : 1_000,
      reps: quick ? 2 : 5,
      warmups: 1,
      env,
      progress,
    }),
  replay: () =>
    replayBench({
      events: 1_000,
      reps: quick ? 10 : 50,
      warmups: 5,
      env,
      progress,
    }),
  api: () =>
    apiBench({
      sessions: quick ? 1_000 : 10_000,
      rounds: quick ? 1 : 3,
      roundSec: quick ? 2 : 5,
      connections: 10,
      progress,
    }),
  panel: () => panelBench({ runs: quick ? 200 : 1_000, iterations: quick ? 3 : 10, progress }),
  gateway: () => gatewayBench({ warmups: quick ? 5 : 20, iterations: quick ? 50 : 500, progress }),
  promotion: () => promotionBench({ warmups: quick ? 1 : 2, iterations: quick ? 3 : 15, progress }),
  queue: () =>
    queueBench({ runs: quick ? 300 : 2_000, rounds: quick ? 2 : 5, warmups: 1, env, progress }),
  fleet: () =>
    fleetBench({
      runs: quick ? 300 : 2_000,
      rounds: quick ? 2 : 5,
      warmups: 1,
      claimers: 8,
      reclaimSamples: quick ? 5 : 10,
      leaseMs: 500,
      pollMs: 50,
      env,
      progress,
    }),
  sandbox: () =>
    sandboxBench({
      warmups: quick ? 1 : 5,
      iterations: quick ? 5 : 50,
      progress,
    }),
  workspace: () =>
    workspaceBench({
      sizes:
        sizeList(env.AAS_BENCH_WORKSPACE_SIZES) ??
        (quick ? [200, 2_000] : [1_000, 20_000, 100_000]),
      // Big repositories get fewer runs: one worktree checkout and removal of 100,000 files
      // takes ~20 s on the reference VM, one `cp -a` ~60 s (bench/README.md).
      iterations: (files) => (quick ? 2 : files >= 100_000 ? 3 : files >= 20_000 ? 5 : 9),
      warmups: () => (quick ? 0 : 1),
      coldBuilds: (files) => (quick || files >= 100_000 ? 1 : 3),
      progress,
    }),
};

function sizeList(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const sizes = value.split(',').map((part) => positiveInt(part.trim()));
  return sizes.every((size): size is number => size !== undefined) && sizes.length > 0
    ? sizes
    : undefined;
}

function positiveInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const parsed = Number(value);
  return parsed > 0 ? parsed : undefined;
}

function formatLoad(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
}

function machine(): Record<string, string | number> {
  const cpuList = cpus();
  let git = 'unknown';
  try {
    git = execFileSync('git', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // git is only needed by the run section, which reports its own failure.
  }
  return {
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    git,
  };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  const unknown = args.filter((arg) => !isSection(arg));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown section(s): ${unknown.join(', ')}\nusage: npm run bench [-- ${SECTIONS.join('|')} …]\n`,
    );
    return 2;
  }
  const selected = args.length === 0 ? [...SECTIONS] : SECTIONS.filter((s) => args.includes(s));
  const info = machine();
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg();
  process.stdout.write(
    `# AAS bench ${startedAt}${quick ? ' (QUICK: reduced sizes, not comparable)' : ''}\n` +
      `# ${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB; ${info.os}; node ${info.node}; ${info.git}\n` +
      `# load average at start: ${formatLoad()} (other work on the machine skews every number)\n\n`,
  );

  const results: Record<string, unknown> = {};
  let failedTargets = 0;
  for (const section of selected) {
    progress(`section ${section}…`);
    const started = performance.now();
    const tables = await runners[section]();
    for (const table of tables) {
      process.stdout.write(`${formatTable(table)}\n\n`);
      failedTargets += table.rows.filter((row) => passes(row) === false).length;
    }
    results[section] = {
      seconds: Math.round((performance.now() - started) / 100) / 10,
      tables: tables.map(tableToJson),
    };
  }

  const outDir = fileURLToPath(new URL('./out/', import.meta.url));
  await mkdir(outDir, { recursive: true });
  const outFile = `${outDir}results.json`;
  await writeFile(
    outFile,
    `${JSON.stringify(
      { startedAt, quick, machine: info, loadAtStart, loadAtEnd: loadavg(), sections: results },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(
    `${failedTargets === 0 ? 'all targets met' : `${failedTargets} target(s) missed`}; load average at end: ${formatLoad()}; results in bench/out/results.json\n`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
