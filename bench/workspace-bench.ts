import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  computePatch,
  createWorkspace,
  prepareRunGit,
  type RunGit,
  removeWorkspace,
  resolveBase,
  type Workspace,
  workspaceStrategySupport,
} from '../src/workspaces/index.js';
import type { ResultRow, ResultTable } from './report.js';
import { median } from './stats.js';

export interface WorkspaceBenchOptions {
  /** Repository sizes in files. */
  readonly sizes: readonly number[];
  /** Measured iterations and warm-ups per size (fewer for big repositories, see plan()). */
  readonly iterations: (files: number) => number;
  readonly warmups: (files: number) => number;
  /** One-off cache builds measured per size. */
  readonly coldBuilds: (files: number) => number;
  readonly progress: (line: string) => void;
}

const PREPARE_TARGET = { op: '<=' as const, value: 50 };
const FILES_PER_DIR = 50;
const DIRS_PER_PACKAGE = 50;

interface Fixture {
  readonly files: number;
  readonly git: RunGit;
  readonly baseCommit: string;
  /** The path the one-line change rewrites, and its new content. */
  readonly changePath: string;
  readonly changed: string;
}

interface Sample {
  readonly prepare: number;
  readonly patch: number;
  readonly remove: number;
}

/**
 * Per repository size: preparing a workspace, computing the patch of a one-line change, and
 * removing the workspace, for the overlay strategy (warm cache, plus the one-off cache build),
 * the worktree strategy, and `cp -a` of a checkout (how workspaces were once made; prepare
 * only, as the baseline the ratios are taken against).
 */
export async function workspaceBench(options: WorkspaceBenchOptions): Promise<ResultTable[]> {
  const root = await mkdtemp(join(tmpdir(), 'aas-bench-ws-'));
  const support = await workspaceStrategySupport();
  const tables: ResultTable[] = [];
  try {
    for (const files of options.sizes) {
      const dir = join(root, `size-${files}`);
      const started = performance.now();
      const fixture = await createFixture(dir, files);
      const generatedS = (performance.now() - started) / 1000;
      options.progress(`workspace: generated ${files}-file repo in ${generatedS.toFixed(1)} s`);
      const plan = {
        iterations: options.iterations(files),
        warmups: options.warmups(files),
      };
      const cacheDir = join(dir, 'cache', 'checkouts');
      const runDir = join(dir, 'run');

      const cold: number[] = [];
      let overlay: Sample[] = [];
      if (support.overlay) {
        await settle();
        for (let build = 0; build < options.coldBuilds(files); build += 1) {
          const coldCache = join(dir, `cold-cache-${build}`);
          const t0 = performance.now();
          const ws = await createWorkspace(fixture.git, {
            baseCommit: fixture.baseCommit,
            attemptDir: join(runDir, `cold-${build}`),
            strategy: 'overlay',
            checkoutCacheDir: coldCache,
          });
          cold.push(performance.now() - t0);
          await removeWorkspace(ws);
          await rm(coldCache, { recursive: true, force: true });
          options.progress(
            `workspace: ${files} files, cold cache build ${cold.at(-1)?.toFixed(0)} ms`,
          );
        }
        // The warm cache is built outside the measurement, as the first attempt of a commit would.
        await removeWorkspace(
          await createWorkspace(fixture.git, {
            baseCommit: fixture.baseCommit,
            attemptDir: join(runDir, 'warm-up-cache'),
            strategy: 'overlay',
            checkoutCacheDir: cacheDir,
          }),
        );
        await settle();
        overlay = await measureStrategy(fixture, 'overlay', runDir, cacheDir, plan, options);
      }
      await settle();
      const worktree = await measureStrategy(fixture, 'worktree', runDir, cacheDir, plan, options);
      const copy = await measureCopy(fixture, runDir, plan, options);
      tables.push(tableFor(fixture, { overlay, cold, worktree, copy }, support, plan, generatedS));
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return tables;
}

/**
 * `pkg-NN/mod-NN/file-NNN.ts`, 50 files per directory, ~200 bytes each, one commit, written
 * with `git fast-import` (100,000 files in ~3 s; writing them and `git add` took minutes).
 * The user's checkout stays empty: the base is named by commit id, which resolveBase takes
 * without looking at the working tree because HEAD (unborn) is another commit.
 */
async function createFixture(dir: string, files: number): Promise<Fixture> {
  const repo = join(dir, 'repo');
  await mkdir(repo, { recursive: true });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  execFileSync('git', ['init', '--quiet', '--initial-branch=main', repo], { env });
  const chunks: string[] = [
    'commit refs/heads/bench\n',
    'committer AAS Bench <bench@localhost> 1767225600 +0000\n',
    'data 6\nbench\n',
  ];
  for (let i = 0; i < files; i += 1) {
    const content = contentOf(i, 'v1');
    chunks.push(`M 100644 inline ${pathOf(i)}\ndata ${Buffer.byteLength(content)}\n${content}\n`);
  }
  execFileSync('git', ['fast-import', '--quiet'], {
    cwd: repo,
    env,
    input: chunks.join(''),
    maxBuffer: 64 * 1024 * 1024,
  });
  const commit = execFileSync('git', ['rev-parse', 'refs/heads/bench'], { cwd: repo, env })
    .toString()
    .trim();
  const git = await prepareRunGit({ runDir: join(dir, 'run'), repo });
  const base = await resolveBase(git, { baseRef: commit, allowDirty: false });
  const middle = Math.floor(files / 2);
  return {
    files,
    git,
    baseCommit: base.baseCommit,
    changePath: pathOf(middle),
    changed: contentOf(middle, 'v2'),
  };
}

function pathOf(index: number): string {
  const dirIndex = Math.floor(index / FILES_PER_DIR);
  const pkg = Math.floor(dirIndex / DIRS_PER_PACKAGE);
  const mod = dirIndex % DIRS_PER_PACKAGE;
  const two = (n: number) => String(n).padStart(2, '0');
  return `pkg-${two(pkg)}/mod-${two(mod)}/file-${String(index % FILES_PER_DIR).padStart(3, '0')}.ts`;
}

function contentOf(index: number, version: string): string {
  return [
    `// generated file ${index}`,
    `export const id${index} = ${index};`,
    `export const version = '${version}';`,
    `export function describe${index}(): string {`,
    `  return 'file ${index} of the workspace benchmark';`,
    '}',
    '',
  ].join('\n');
}

async function measureStrategy(
  fixture: Fixture,
  strategy: 'overlay' | 'worktree',
  runDir: string,
  cacheDir: string,
  plan: { iterations: number; warmups: number },
  options: WorkspaceBenchOptions,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let index = 0; index < plan.warmups + plan.iterations; index += 1) {
    const t0 = performance.now();
    const ws: Workspace = await createWorkspace(fixture.git, {
      baseCommit: fixture.baseCommit,
      attemptDir: join(runDir, `${strategy}-${index}`),
      strategy,
      checkoutCacheDir: cacheDir,
    });
    const t1 = performance.now();
    if (ws.strategy !== strategy) throw new Error(`asked for ${strategy}, got ${ws.strategy}`);
    await writeFile(join(ws.dir, fixture.changePath), fixture.changed);
    const t2 = performance.now();
    const patch = await computePatch(ws, { runtimeRule: () => null });
    const t3 = performance.now();
    if (patch.files.length !== 1 || patch.stats.insertions !== 1) {
      throw new Error(`${strategy}: expected a one-line patch of one file, got ${patch.text}`);
    }
    await removeWorkspace(ws);
    const t4 = performance.now();
    const sample = { prepare: t1 - t0, patch: t3 - t2, remove: t4 - t3 };
    if (index >= plan.warmups) samples.push(sample);
    options.progress(
      `workspace: ${fixture.files} files, ${strategy} ${index < plan.warmups ? 'warm-up' : 'run'}: prepare ${sample.prepare.toFixed(1)} ms, patch ${sample.patch.toFixed(1)} ms, remove ${sample.remove.toFixed(1)} ms`,
    );
  }
  return samples;
}

/** `cp -a` of a checkout of the base (made once with the worktree strategy, not measured). */
async function measureCopy(
  fixture: Fixture,
  runDir: string,
  plan: { iterations: number; warmups: number },
  options: WorkspaceBenchOptions,
): Promise<Sample[]> {
  const source = await createWorkspace(fixture.git, {
    baseCommit: fixture.baseCommit,
    attemptDir: join(runDir, 'copy-source'),
    strategy: 'worktree',
  });
  const samples: Sample[] = [];
  await settle();
  try {
    for (let index = 0; index < plan.warmups + plan.iterations; index += 1) {
      const target = join(runDir, `copy-${index}`, 'workspace');
      await mkdir(join(runDir, `copy-${index}`), { recursive: true });
      const t0 = performance.now();
      await run('cp', ['-a', source.dir, target]);
      const t1 = performance.now();
      await rm(target, { recursive: true, force: true });
      const t2 = performance.now();
      const sample = { prepare: t1 - t0, patch: Number.NaN, remove: t2 - t1 };
      if (index >= plan.warmups) samples.push(sample);
      options.progress(
        `workspace: ${fixture.files} files, cp -a ${index < plan.warmups ? 'warm-up' : 'run'}: ${sample.prepare.toFixed(1)} ms`,
      );
    }
  } finally {
    await removeWorkspace(source);
  }
  return samples;
}

/**
 * `sync` (not measured) before each strategy's runs, so the writeback of what the previous
 * step wrote (up to 100,000 files) is not charged to the next one. Measured on the reference
 * VM: overlay prepare of a 1,000-file repository took 13.5 ms median right after a cache build
 * and 4.7 ms after a sync; at 100,000 files 10.0 and 8.7 ms. Runs within one strategy are not
 * separated: each pays for its predecessor's writeback, as back-to-back attempts do.
 */
async function settle(): Promise<void> {
  await run('sync', []);
}

function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr}`)),
    );
  });
}

function tableFor(
  fixture: Fixture,
  measured: { overlay: Sample[]; cold: number[]; worktree: Sample[]; copy: Sample[] },
  support: { overlay: boolean; reason: string },
  plan: { iterations: number; warmups: number },
  generatedS: number,
): ResultTable {
  const copyPrepare = median(measured.copy.map((s) => s.prepare));
  const ratio = (samples: readonly number[]) => {
    const value = median(samples) / copyPrepare;
    return value >= 0.1 ? `${value.toFixed(2)}× cp` : `${value.toFixed(4)}× cp`;
  };
  const rows: ResultRow[] = [];
  const add = (metric: string, samples: readonly number[], withRatio: boolean, target = false) =>
    rows.push({
      metric: withRatio ? `${metric} [${ratio(samples)}]` : metric,
      unit: 'ms',
      samples,
      ...(target ? { target: PREPARE_TARGET } : {}),
    });
  const prepare = (s: readonly Sample[]) => s.map((x) => x.prepare);
  const patch = (s: readonly Sample[]) => s.map((x) => x.patch);
  const both = (s: readonly Sample[]) => s.map((x) => x.prepare + x.patch);
  const remove = (s: readonly Sample[]) => s.map((x) => x.remove);

  add('prepare: cp -a of a checkout', prepare(measured.copy), true);
  add('prepare: worktree (read-tree -u)', prepare(measured.worktree), true);
  if (support.overlay) {
    add('prepare: overlay, warm cache', prepare(measured.overlay), true, true);
    add('prepare: overlay, cold cache (one-off build)', measured.cold, true);
  }
  add('patch: worktree', patch(measured.worktree), false);
  if (support.overlay) add('patch: overlay', patch(measured.overlay), false);
  add('prepare+patch: worktree', both(measured.worktree), true);
  if (support.overlay) add('prepare+patch: overlay, warm cache', both(measured.overlay), true);
  add('remove: cp -a copy (rm -rf)', remove(measured.copy), false);
  add('remove: worktree', remove(measured.worktree), false);
  if (support.overlay) add('remove: overlay (unmount + rm)', remove(measured.overlay), false);

  return {
    title: `Workspace, ${fixture.files.toLocaleString('en-US')} files, one-line change, ${plan.iterations} runs after ${plan.warmups} warm-up`,
    rows,
    notes: [
      `repository generated once with git fast-import in ${generatedS.toFixed(1)} s (not measured): ${FILES_PER_DIR} files of ~200 bytes per directory, nested pkg-NN/mod-NN/`,
      '[…× cp] = median / median of `cp -a` preparation; patch = computePatch of a one-line change (no runtime rules)',
      support.overlay
        ? `overlay: ${support.reason}; cold = createWorkspace with an empty cache (checkout build + mount), ${measured.cold.length} build(s)`
        : `overlay rows skipped: ${support.reason}`,
    ],
  };
}
