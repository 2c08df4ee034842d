import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRuntime } from '../src/app/index.js';
import { parseConfig } from '../src/config/index.js';
import { silentLogger } from '../src/kernel/index.js';
import { promoteRun, recordDecision } from '../src/promotion/index.js';
import { executeRun, parseJobSpec, submitRun } from '../src/runner/index.js';
import type { StoredEvent } from '../src/store/index.js';
import type { ResultRow, ResultTable } from './report.js';

export interface PromotionBenchOptions {
  readonly warmups: number;
  readonly iterations: number;
  readonly progress: (line: string) => void;
}

/** The steps of one approval → pushed branch, from the arrival times of their events. */
interface Sample {
  readonly approval: number;
  readonly preflight: number;
  readonly commit: number;
  readonly push: number;
  readonly attest: number;
  readonly total: number;
}

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
};

function git(cwd: string, args: readonly string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' });
}

/**
 * Time from an approval to a pushed branch on a small repository (20 files) whose remote is a
 * local bare repository, in process on SQLite: the approval write, then the promotion split by
 * step — preflight (lease, checks, the remote read and fetch), commit (index-only apply and
 * commit-tree), push (create-only push to the remote), attest (sign, store, record). The run
 * that produced the patch is not measured.
 */
export async function promotionBench(options: PromotionBenchOptions): Promise<ResultTable[]> {
  const root = await mkdtemp(join(tmpdir(), 'aas-bench-promotion-'));
  try {
    const repo = join(root, 'repo');
    git(root, ['init', '-q', '-b', 'main', repo]);
    for (let i = 0; i < 20; i += 1) {
      await writeFile(join(repo, `file-${i}.txt`), `line ${i}\n`);
    }
    git(repo, ['add', '-A']);
    git(repo, ['commit', '-qm', 'base']);
    const remote = join(root, 'origin.git');
    git(root, ['clone', '-q', '--bare', repo, remote]);
    git(repo, ['remote', 'add', 'origin', remote]);
    const home = join(root, 'home');
    const runtime = await createRuntime(
      parseConfig({ env: { AAS_HOME: home, AAS_LOG_LEVEL: 'silent' }, cwd: root }),
      { hostEnv: process.env, nodePath: process.execPath, recover: false, log: silentLogger },
    );
    const samples: Sample[] = [];
    try {
      const total = options.warmups + options.iterations;
      for (let i = 0; i < total; i += 1) {
        const deps = runtime.runnerDeps();
        const job = parseJobSpec({
          task: `bench change ${i}`,
          repo,
          agent: 'command',
          agentInput: { command: `echo change ${i} >> file-${i % 20}.txt` },
          promotion: { mode: 'branch', targetBranch: 'main' },
        });
        const submitted = await submitRun(deps, job, 'bench:requester', { reserveFor: deps });
        const outcome = await executeRun(deps, submitted.runId);
        if (outcome.status !== 'ready_for_promotion') {
          throw new Error(`bench run ended ${outcome.status}: ${outcome.detail}`);
        }
        const arrivals = new Map<string, number>();
        const unsubscribe = runtime.bus.onAny((event: StoredEvent) => {
          if (event.sessionId === submitted.sessionId) arrivals.set(event.type, performance.now());
        });
        const started = performance.now();
        await recordDecision(runtime.promotion.approvals, {
          runId: submitted.runId,
          decider: { name: 'bench:approver', tokenId: null },
          decision: 'approved',
          note: null,
        });
        const approved = performance.now();
        const result = await promoteRun(runtime.promotion.promotion, {
          runId: submitted.runId,
          by: 'bench:requester',
        });
        const finished = performance.now();
        unsubscribe();
        if (result.mode !== 'branch' || result.commitSha === null) {
          throw new Error(`bench promotion did not push a branch: ${JSON.stringify(result)}`);
        }
        const at = (type: string) => {
          const value = arrivals.get(type);
          if (value === undefined) throw new Error(`no ${type} event`);
          return value;
        };
        if (i >= options.warmups) {
          samples.push({
            approval: approved - started,
            preflight: at('promotion.preflight') - approved,
            commit: at('promotion.committed') - at('promotion.preflight'),
            push: at('promotion.pushed') - at('promotion.committed'),
            attest: finished - at('promotion.pushed'),
            total: finished - started,
          });
        }
        options.progress(`promotion ${i + 1}/${total}: ${(finished - started).toFixed(1)} ms`);
      }
    } finally {
      await runtime.close();
    }
    const row = (metric: string, key: keyof Sample): ResultRow => ({
      metric,
      unit: 'ms',
      samples: samples.map((sample) => sample[key]),
    });
    return [
      {
        title: 'Promotion: approval → pushed branch (small repo, local bare remote, SQLite)',
        rows: [
          row('total', 'total'),
          row('approval (record the decision)', 'approval'),
          row('preflight (lease, checks, ls-remote, fetch)', 'preflight'),
          row('commit (index-only apply, commit-tree)', 'commit'),
          row('push (create-only)', 'push'),
          row('attest and complete (sign, store, record)', 'attest'),
        ],
        notes: [
          `${options.iterations} promotions after ${options.warmups} warm-up; each promotes a different run onto main`,
          'the run that produced each patch is not timed',
        ],
      },
    ];
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
