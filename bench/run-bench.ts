import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRuntime, type Runtime } from '../src/app/index.js';
import { parseConfig } from '../src/config/index.js';
import type { MockScript } from '../src/drivers/index.js';
import { silentLogger } from '../src/kernel/index.js';
import { executeRun, type JobSpec, parseJobSpec, submitRun } from '../src/runner/index.js';
import type { StoredEvent } from '../src/store/index.js';
import { createRepositoryFromFiles } from '../src/workspaces/index.js';
import type { ResultRow, ResultTable } from './report.js';

export interface RunBenchOptions {
  readonly smallWarmups: number;
  readonly smallIterations: number;
  readonly largeWarmups: number;
  readonly largeIterations: number;
  readonly largeFiles: number;
  /** `compiled`: dist/drivers/mock-agent.js under plain node; `builtin`: the `mock` agent. */
  readonly agent: 'compiled' | 'builtin';
  readonly progress: (line: string) => void;
}

/** One governed run, split into the phases its events (and their arrival times) reveal. */
interface RunSample {
  readonly total: number;
  readonly setup: number;
  readonly workspace: number;
  readonly agent: number;
  readonly patch: number;
  readonly gates: number;
  readonly teardown: number;
  readonly other: number;
  readonly overhead: number;
}

interface Timed {
  readonly event: StoredEvent;
  /** performance.now() when the bus delivered it: right after the store committed it. */
  readonly t: number;
}

interface Fixture {
  readonly label: string;
  readonly repo: string;
  readonly fileCount: number;
  readonly modifyPath: string;
  readonly appendPath: string;
  readonly addPath: string;
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPILED_MOCK = fileURLToPath(new URL('../dist/drivers/mock-agent.js', import.meta.url));
const BENCH_AGENT_ID = 'bench-mock';

export async function runBench(options: RunBenchOptions): Promise<ResultTable[]> {
  const root = await mkdtemp(join(tmpdir(), 'aas-bench-run-'));
  try {
    const home = join(root, 'home');
    const agent = await prepareAgent(home, options.agent);
    const config = parseConfig({ env: { AAS_HOME: home, AAS_LOG_LEVEL: 'silent' }, cwd: root });
    const runtime = await createRuntime(config, {
      hostEnv: process.env,
      nodePath: process.execPath,
      recover: false,
      log: silentLogger,
    });
    try {
      const small = await createSmallRepo(join(root, 'repos', 'small'));
      options.progress(`run: small repo (${small.fileCount} files)`);
      const smallSamples = await measure(runtime, small, agent.id, {
        warmups: options.smallWarmups,
        iterations: options.smallIterations,
        progress: options.progress,
      });

      const generationStarted = performance.now();
      const large = await createLargeRepo(join(root, 'repos', 'large'), options.largeFiles);
      const generationMs = performance.now() - generationStarted;
      options.progress(
        `run: generated ${large.fileCount}-file repo in ${(generationMs / 1000).toFixed(1)} s`,
      );
      const largeSamples = await measure(runtime, large, agent.id, {
        warmups: options.largeWarmups,
        iterations: options.largeIterations,
        progress: options.progress,
      });

      const spawnGit = await spawnCost('git', ['--version']);
      const spawnNode = await spawnCost(process.execPath, ['-e', '']);

      const common = [
        `agent: ${agent.description}`,
        'mock edits 3 files (modify, append, add); validators: none; SQLite store; in-process (no CLI start-up)',
      ];
      return [
        {
          title: `Governed run, small repo (${small.fileCount} files), ${options.smallIterations} runs after ${options.smallWarmups} warm-up`,
          rows: [
            ...rowsFor(smallSamples, { overheadTargetMs: 100 }),
            { metric: 'ref: spawn `git --version`', unit: 'ms', samples: spawnGit },
            { metric: 'ref: spawn `node -e ""`', unit: 'ms', samples: spawnNode },
          ],
          notes: [...common, ...phaseNotes()],
        },
        {
          title: `Governed run, generated repo (${large.fileCount.toLocaleString('en-US')} files), ${options.largeIterations} runs after ${options.largeWarmups} warm-up`,
          rows: rowsFor(largeSamples, {}),
          notes: [
            ...common,
            `repository generated once in ${(generationMs / 1000).toFixed(1)} s (not measured): ${large.fileCount} files of ~200 bytes in nested dirs, one commit`,
          ],
        },
      ];
    } finally {
      await runtime.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function phaseNotes(): string[] {
  return [
    'ref rows: the cost of starting one process on this machine (AAS runs git as a process; the agent is a node process)',
    'setup = submit → run.attempt.started (session rows, lease, private git dir, base + dirty check, policy)',
    'workspace / agent / patch / gates = durationMs recorded in workspace.created, agent.finished, patch.computed, gate.* events',
    'teardown = last gate → run recorded (artifact, workspace removal, summary.json, run.completed)',
    'other = overhead − the phases above (event appends in between, driver I/O around the agent process)',
    'overhead = total − agent',
  ];
}

function rowsFor(samples: readonly RunSample[], targets: { overheadTargetMs?: number }) {
  const column = (pick: (sample: RunSample) => number) => samples.map(pick);
  const rows: ResultRow[] = [
    { metric: 'total wall time', unit: 'ms', samples: column((s) => s.total) },
    { metric: 'setup', unit: 'ms', samples: column((s) => s.setup) },
    { metric: 'workspace', unit: 'ms', samples: column((s) => s.workspace) },
    { metric: 'agent (mock process)', unit: 'ms', samples: column((s) => s.agent) },
    { metric: 'patch', unit: 'ms', samples: column((s) => s.patch) },
    { metric: 'gates (sum)', unit: 'ms', samples: column((s) => s.gates) },
    { metric: 'teardown', unit: 'ms', samples: column((s) => s.teardown) },
    { metric: 'other', unit: 'ms', samples: column((s) => s.other) },
    {
      metric: 'overhead = total − agent',
      unit: 'ms',
      samples: column((s) => s.overhead),
      ...(targets.overheadTargetMs === undefined
        ? {}
        : { target: { op: '<=' as const, value: targets.overheadTargetMs } }),
    },
  ];
  return rows;
}

async function measure(
  runtime: Runtime,
  fixture: Fixture,
  agentId: string,
  plan: { warmups: number; iterations: number; progress: (line: string) => void },
): Promise<RunSample[]> {
  const samples: RunSample[] = [];
  const total = plan.warmups + plan.iterations;
  for (let index = 0; index < total; index += 1) {
    const sample = await measureOne(runtime, jobFor(fixture, agentId, index));
    const warm = index < plan.warmups;
    if (!warm) samples.push(sample);
    plan.progress(
      `run: ${fixture.label} ${warm ? 'warm-up' : 'run'} ${index + 1}/${total}: ${sample.total.toFixed(0)} ms total, ${sample.overhead.toFixed(0)} ms overhead`,
    );
  }
  return samples;
}

async function measureOne(runtime: Runtime, job: JobSpec): Promise<RunSample> {
  const seen: Timed[] = [];
  const detach = runtime.bus.onAny((event) => seen.push({ event, t: performance.now() }));
  const deps = runtime.runnerDeps();
  let started: number;
  let ended: number;
  let sessionId: string;
  try {
    started = performance.now();
    const submitted = await submitRun(deps, job, 'user:bench');
    const outcome = await executeRun(deps, submitted.runId);
    ended = performance.now();
    sessionId = submitted.sessionId;
    if (outcome.reasonCode !== 'GATES_PASSED' || outcome.patch?.files.length !== 3) {
      throw new Error(
        `bench run ${outcome.runId} ended ${outcome.status} (${outcome.reasonCode}): ${outcome.detail}`,
      );
    }
  } finally {
    detach();
  }
  const events = seen.filter((timed) => timed.event.sessionId === sessionId);
  const attemptStarted = arrival(events, 'run.attempt.started');
  const gateEvents = events.filter(
    (timed) => timed.event.type === 'gate.passed' || timed.event.type === 'gate.failed',
  );
  const lastGate = gateEvents.at(-1);
  if (lastGate === undefined) throw new Error('no gate event was recorded');

  const totalMs = ended - started;
  const agent = durationOf(events, 'agent.finished');
  const setup = attemptStarted - started;
  const workspace = durationOf(events, 'workspace.created');
  const patch = durationOf(events, 'patch.computed');
  const gates = gateEvents.reduce((sum, timed) => sum + numberField(timed.event, 'durationMs'), 0);
  const teardown = ended - lastGate.t;
  const overhead = totalMs - agent;
  return {
    total: totalMs,
    setup,
    workspace,
    agent,
    patch,
    gates,
    teardown,
    other: overhead - setup - workspace - patch - gates - teardown,
    overhead,
  };
}

function find(events: readonly Timed[], type: string): Timed {
  const found = events.find((timed) => timed.event.type === type);
  if (found === undefined) throw new Error(`the run recorded no ${type} event`);
  return found;
}

function arrival(events: readonly Timed[], type: string): number {
  return find(events, type).t;
}

function durationOf(events: readonly Timed[], type: string): number {
  return numberField(find(events, type).event, 'durationMs');
}

function numberField(event: StoredEvent, field: string): number {
  const data = event.data;
  const value =
    typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[field] : null;
  if (typeof value !== 'number') throw new Error(`${event.type}.${field} is not a number`);
  return value;
}

function jobFor(fixture: Fixture, agentId: string, iteration: number): JobSpec {
  const script: MockScript = {
    edits: [
      {
        path: fixture.modifyPath,
        write: `// rewritten by bench iteration ${iteration}\nexport const value = ${iteration};\n`,
      },
      { path: fixture.appendPath, append: `// appended by bench iteration ${iteration}\n` },
      {
        path: fixture.addPath,
        write: `// added by bench iteration ${iteration}\nexport const added = ${iteration};\n`,
      },
    ],
    result: { summary: `bench iteration ${iteration}` },
  };
  return parseJobSpec({
    task: 'bench: modify one file, append to another, add a new one',
    repo: fixture.repo,
    agent: agentId,
    agentInput: { mock: script },
    validators: [],
    labels: ['bench'],
  });
}

/**
 * The built-in `mock` agent runs from source through tsx when AAS itself runs from source
 * (as here), which adds a TypeScript loader start-up to every attempt. A foreign agent binary
 * would not pay that, so by default the bench registers the compiled mock agent (built by
 * `npm run bench`) under its own id: same code and protocol, plain `node` start-up.
 */
async function prepareAgent(
  home: string,
  wanted: 'compiled' | 'builtin',
): Promise<{ id: string; description: string }> {
  if (wanted === 'compiled' && (await exists(COMPILED_MOCK))) {
    const dir = join(home, 'agents');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, `${BENCH_AGENT_ID}.json`),
      JSON.stringify({
        id: BENCH_AGENT_ID,
        description: 'the compiled mock agent',
        entrypoint: process.execPath,
        args: [COMPILED_MOCK],
        capabilities: ['edit', 'events'],
        result: 'file',
      }),
    );
    return {
      id: BENCH_AGENT_ID,
      description: `compiled mock agent (node ${relative(REPO_ROOT, COMPILED_MOCK)}), a child process per attempt`,
    };
  }
  return {
    id: 'mock',
    description:
      'built-in mock agent from source through tsx (a child process per attempt, with TypeScript loader start-up)',
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function createSmallRepo(dir: string): Promise<Fixture> {
  const files: Record<string, string> = {
    'README.md': '# bench-small\n\nA small repository for the AAS run benchmark.\n',
    'package.json': '{ "name": "bench-small", "version": "1.0.0", "type": "module" }\n',
    '.gitignore': 'node_modules/\ndist/\n',
    'src/index.ts': "export * from './lib/module-00.js';\n",
  };
  for (let index = 0; Object.keys(files).length < 16; index += 1) {
    const path = `src/lib/module-${String(index).padStart(2, '0')}.ts`;
    files[path] = generatedBody(path, index);
  }
  for (let index = 0; Object.keys(files).length < 20; index += 1) {
    const path = `test/module-${String(index).padStart(2, '0')}.test.ts`;
    files[path] = generatedBody(path, 100 + index);
  }
  await createRepositoryFromFiles(dir, files, 'bench: small repository', {
    date: new Date(Date.UTC(2026, 0, 1)),
  });
  return {
    label: 'small',
    repo: dir,
    fileCount: Object.keys(files).length,
    modifyPath: 'src/lib/module-03.ts',
    appendPath: 'README.md',
    addPath: 'src/lib/bench-added.ts',
  };
}

/**
 * `count` deterministic files of ~200 bytes in a 3-level tree (pkg-NN/mod-NN/file-NNN.ts,
 * 50 files per leaf directory), committed once.
 */
async function createLargeRepo(dir: string, count: number): Promise<Fixture> {
  const perLeaf = 50;
  const leavesPerPackage = 20;
  const files: Record<string, string> = {};
  const paths: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const leaf = Math.floor(index / perLeaf);
    const pkg = Math.floor(leaf / leavesPerPackage);
    const mod = leaf % leavesPerPackage;
    const path = `pkg-${pad(pkg, 2)}/mod-${pad(mod, 2)}/file-${pad(index % perLeaf, 3)}.ts`;
    files[path] = generatedBody(path, index);
    paths.push(path);
  }
  const modifyPath = paths[Math.floor(count / 3)];
  const appendPath = paths[Math.floor((2 * count) / 3)];
  if (modifyPath === undefined || appendPath === undefined || modifyPath === appendPath) {
    throw new Error(`the generated repository needs at least 3 files, got ${count}`);
  }
  await createRepositoryFromFiles(dir, files, `bench: ${count} generated files`, {
    date: new Date(Date.UTC(2026, 0, 1)),
  });
  return {
    label: `${count}-file`,
    repo: dir,
    fileCount: count,
    modifyPath,
    appendPath,
    addPath: `${modifyPath.slice(0, modifyPath.lastIndexOf('/'))}/bench-added.ts`,
  };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** ~200 bytes of deterministic TypeScript-looking text. */
function generatedBody(path: string, seed: number): string {
  const head = `// ${path}: generated by the AAS bench\nexport const id${seed} = ${seed};\n// `;
  let state = (seed * 2_654_435_761 + 1) >>> 0;
  let filler = '';
  while (head.length + filler.length < 199) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    filler += (state >>> 24).toString(36).slice(-1);
  }
  return `${head}${filler}\n`;
}

/**
 * Wall time of starting `command` and waiting for it to exit: 10 samples after 2 warm-ups.
 * With a minimal environment, as AAS gives its agents: inherited variables can change start-up
 * cost (NODE_EXTRA_CA_CERTS alone adds ~30 ms to every node start on the reference VM).
 */
async function spawnCost(command: string, args: readonly string[]): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < 12; index += 1) {
    const started = performance.now();
    await new Promise<void>((resolvePromise, reject) => {
      const child = spawn(command, args, {
        stdio: 'ignore',
        env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' },
      });
      child.once('error', reject);
      child.once('close', () => resolvePromise());
    });
    if (index >= 2) samples.push(performance.now() - started);
  }
  return samples;
}
