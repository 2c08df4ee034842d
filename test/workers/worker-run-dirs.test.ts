import { existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AasError, type Clock, silentLogger } from '../../src/kernel/index.js';
import {
  type ControlPlaneLink,
  type LeaseGrant,
  RemoteWorkerAgent,
  type WorkerExecutionDeps,
} from '../../src/workers/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * What a worker keeps on disk per run: deleted once the control plane accepted the run's end,
 * kept (stamped with the worker's clock) when the execution was abandoned, and deleted by the
 * sweep once left longer than the limit. The clock is injected; nothing waits for wall time.
 */

const HOUR_MS = 3_600_000;
const NOW_MS = Date.parse('2030-01-10T12:00:00Z');
const RUN_ID = `run_${'1'.repeat(24)}`;
const OLD_RUN_ID = `run_${'2'.repeat(24)}`;
const YOUNG_RUN_ID = `run_${'3'.repeat(24)}`;

const clock: Clock = {
  nowMs: () => NOW_MS,
  elapsedMs: () => 0,
  now: () => new Date(NOW_MS),
  nowIso: () => new Date(NOW_MS).toISOString(),
};

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) removeDir(home);
});

function grant(): LeaseGrant {
  return {
    runId: RUN_ID,
    sessionId: 'ses_dirs',
    claim: 1,
    maxClaims: 2,
    jobSpec: { task: 'edit', repo: '/srv/repos/dirs', agent: 'command' },
    repo: '/srv/repos/dirs',
    baseRef: null,
    baseCommit: null,
    leaseExpiresAt: new Date(NOW_MS + 60_000).toISOString(),
    fencingToken: 1,
    leaseMs: 60_000,
    serverPolicy: null,
    budgets: {},
  };
}

const runRecord = {
  id: RUN_ID,
  sessionId: 'ses_dirs',
  status: 'running',
  jobSpec: { task: 'edit', repo: '/srv/repos/dirs', agent: 'command' },
  fencingToken: 1,
  claimCount: 1,
  repo: '/srv/repos/dirs',
  baseCommit: null,
  leaseOwner: 'wrk_dirs',
};

/** One run claimed, then none; `leaseOp` decides how its execution ends. */
function linkWith(leaseOp: ControlPlaneLink['leaseOp']): ControlPlaneLink {
  let claims = 0;
  return {
    url: 'http://control-plane.test',
    claimRun: (_waitSec, signal) => {
      claims += 1;
      if (claims === 1) return Promise.resolve(grant());
      return new Promise((resolve) => {
        if (signal.aborted) resolve(null);
        signal.addEventListener('abort', () => resolve(null), { once: true });
      });
    },
    workerHeartbeat: async (leases) => ({
      runs: leases.map((lease) => ({ runId: lease.runId, order: 'ok' as const })),
      drain: false,
    }),
    leaseOp,
    // The control plane has no such repository: the run ends as unrunnable.
    basePack: () => Promise.reject(new AasError('REPO_NOT_FOUND', 'no repository there')),
    putRunArtifact: () => Promise.reject(new Error('not used')),
    isTransient: () => false,
  };
}

interface Home {
  readonly runs: string;
  readonly artifacts: string;
  readonly checkouts: string;
  readonly repos: string;
}

function newHome(): Home {
  const home = makeTempDir('aas-worker-dirs-');
  homes.push(home);
  const dirs = {
    runs: join(home, 'runs'),
    artifacts: join(home, 'artifacts'),
    checkouts: join(home, 'checkouts'),
    repos: join(home, 'repos'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir);
  return dirs;
}

/** Directories of `runId` as an execution leaves them, last written `ageMs` before NOW_MS. */
function leaveRun(home: Home, runId: string, ageMs: number): void {
  mkdirSync(join(home.runs, runId, 'attempt-1'), { recursive: true });
  writeFileSync(join(home.runs, runId, 'attempt-1', 'stdout.log'), 'output\n');
  mkdirSync(join(home.artifacts, runId));
  writeFileSync(join(home.artifacts, runId, `${'a'.repeat(64)}.patch`), 'diff\n');
  const at = new Date(NOW_MS - ageMs);
  for (const dir of [join(home.runs, runId), join(home.artifacts, runId)]) utimesSync(dir, at, at);
}

function agentOn(home: Home, link: ControlPlaneLink): RemoteWorkerAgent {
  return new RemoteWorkerAgent(
    {
      link,
      // Only its paths are used: neither run here gets as far as an attempt.
      execution: {
        paths: {
          home: join(home.runs, '..'),
          runs: home.runs,
          artifacts: home.artifacts,
          checkouts: home.checkouts,
          repos: home.repos,
        },
      } as WorkerExecutionDeps,
      workerId: 'wrk_dirs',
      clock,
      log: silentLogger,
      sleep: async () => undefined,
    },
    {
      concurrency: 1,
      claimWaitSec: 25,
      cacheDir: home.repos,
      cacheMaxIdleMs: 7 * 24 * HOUR_MS,
      leftRunMaxAgeMs: 24 * HOUR_MS,
      backoff: { firstMs: 1, maxMs: 1 },
    },
  );
}

describe("a worker's run directories", () => {
  it('are deleted once the control plane accepted the end of the run', async () => {
    const home = newHome();
    // An earlier claim's directories, as a requeued run finds them.
    leaveRun(home, RUN_ID, 0);
    let reported = 0;
    const agent = agentOn(
      home,
      linkWith(async (_runId, _token, operation) => {
        if (operation.op === 'getRun') return { run: runRecord };
        if (operation.op === 'updateRun') {
          reported += 1;
          return { run: { ...runRecord, status: 'failed' }, events: [] };
        }
        throw new Error(`unexpected ${operation.op}`);
      }),
    );
    const running = agent.run();
    await vi.waitFor(() => expect(reported).toBe(1));
    await vi.waitFor(() => {
      expect(existsSync(join(home.runs, RUN_ID))).toBe(false);
      expect(existsSync(join(home.artifacts, RUN_ID))).toBe(false);
    });
    agent.drain();
    await running;
  });

  it('stay, stamped now, when the execution was abandoned without an accepted end', async () => {
    const home = newHome();
    leaveRun(home, RUN_ID, 10 * HOUR_MS);
    let asked = 0;
    const agent = agentOn(
      home,
      linkWith(async () => {
        asked += 1;
        throw new AasError('INTERNAL', 'the control plane failed');
      }),
    );
    const running = agent.run();
    await vi.waitFor(() => expect(asked).toBe(1));
    await vi.waitFor(() => {
      expect(statSync(join(home.runs, RUN_ID)).mtimeMs).toBe(NOW_MS);
      expect(statSync(join(home.artifacts, RUN_ID)).mtimeMs).toBe(NOW_MS);
    });
    expect(existsSync(join(home.runs, RUN_ID, 'attempt-1', 'stdout.log'))).toBe(true);
    agent.drain();
    await running;
  });

  it('left longer ago than the limit (a killed worker) are deleted by the sweep at start', async () => {
    const home = newHome();
    leaveRun(home, OLD_RUN_ID, 25 * HOUR_MS);
    leaveRun(home, YOUNG_RUN_ID, 23 * HOUR_MS);
    const agent = agentOn(
      home,
      linkWith(async () => {
        throw new AasError('INTERNAL', 'the control plane failed');
      }),
    );
    const running = agent.run();
    await vi.waitFor(() => {
      expect(existsSync(join(home.runs, OLD_RUN_ID))).toBe(false);
      expect(existsSync(join(home.artifacts, OLD_RUN_ID))).toBe(false);
    });
    expect(existsSync(join(home.runs, YOUNG_RUN_ID, 'attempt-1', 'stdout.log'))).toBe(true);
    agent.drain();
    await running;
  });
});
