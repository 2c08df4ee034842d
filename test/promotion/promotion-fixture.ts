import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createRuntime, type Runtime } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { type Clock, silentLogger } from '../../src/kernel/index.js';
import type { DraftPrProvider } from '../../src/promotion/index.js';
import { executeRun, type JobSpecInput, parseJobSpec, submitRun } from '../../src/runner/index.js';
import { createTempRepo, git, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * A real repository with a bare repository as its `origin`, and a runtime on a fresh AAS_HOME
 * (SQLite, or PostgreSQL via `databaseUrl`) that runs jobs to `ready_for_promotion`.
 */
export interface PromotionFixture {
  readonly home: string;
  readonly repo: string;
  readonly remote: string;
  readonly runtime: Runtime;
  /** Runs a job with the command agent to its end; returns the run and session ids. */
  runJob(
    command: string,
    extra?: Partial<JobSpecInput>,
    requestedBy?: string,
  ): Promise<{ runId: string; sessionId: string; status: string }>;
  remoteBranches(): Record<string, string>;
  cleanup(): Promise<void>;
}

export async function createPromotionFixture(
  options: {
    env?: Record<string, string>;
    provider?: DraftPrProvider | null;
    files?: Record<string, string>;
    /** Time for approvals' expiry (a ManualClock moves it without sleeping). */
    clock?: Clock;
  } = {},
): Promise<PromotionFixture> {
  const home = makeTempDir('aas-promo-home-');
  const repo = createTempRepo(
    options.files ?? { 'README.md': '# demo\n', 'src/app.js': 'export const answer = 41;\n' },
  );
  const remoteParent = makeTempDir('aas-promo-remote-');
  const remote = join(remoteParent, 'origin.git');
  execFileSync('git', ['clone', '-q', '--bare', repo, remote]);
  git(repo, ['remote', 'add', 'origin', remote]);
  const config = parseConfig({
    env: { AAS_HOME: home, AAS_LOG_LEVEL: 'silent', ...options.env },
    cwd: home,
  });
  let runtime = await createRuntime(config, {
    hostEnv: {},
    nodePath: process.execPath,
    log: silentLogger,
    recover: false,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  if (options.provider !== undefined) {
    const { createPromotionDeps } = await import('../../src/app/index.js');
    runtime = {
      ...runtime,
      promotion: createPromotionDeps(
        {
          config,
          store: runtime.store,
          clock: runtime.clock,
          bus: runtime.bus,
          log: runtime.log,
          owner: runtime.owner,
          runnerDeps: () => runtime.runnerDeps(),
        },
        { provider: options.provider },
      ),
    };
  }
  const fixture: PromotionFixture = {
    home,
    repo,
    remote,
    runtime,
    async runJob(command, extra = {}, requestedBy = 'alice') {
      const deps = runtime.runnerDeps();
      const job = parseJobSpec({
        task: 'answer 42',
        repo,
        agent: 'command',
        agentInput: { command },
        ...extra,
      });
      const submitted = await submitRun(deps, job, requestedBy, { reserveFor: deps });
      const outcome = await executeRun(deps, submitted.runId);
      return { runId: submitted.runId, sessionId: submitted.sessionId, status: outcome.status };
    },
    remoteBranches() {
      const text = execFileSync(
        'git',
        [
          '--git-dir',
          remote,
          'for-each-ref',
          '--format=%(refname:short) %(objectname)',
          'refs/heads',
        ],
        {
          encoding: 'utf8',
        },
      );
      return Object.fromEntries(
        text
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(' ') as [string, string]),
      );
    },
    async cleanup() {
      await runtime.close();
      removeDir(home);
      removeDir(repo);
      removeDir(remoteParent);
    },
  };
  return fixture;
}

export const FIX = "sed -i 's/answer = 41/answer = 42/' src/app.js";
