import { describe, expect, it, vi } from 'vitest';
import { AasError, type Logger, systemClock } from '../../src/kernel/index.js';
import {
  type ControlPlaneLink,
  type LeaseGrant,
  RemoteWorkerAgent,
  type WorkerExecutionDeps,
} from '../../src/workers/index.js';

/**
 * A worker cut off from a control plane that accepts its connections and never answers: its
 * heartbeat hangs (until the request's own timeout, in the real client), so no beat fails in
 * time to tell it the lease lapsed. The run must still be stopped at the lease's deadline by
 * the worker's own reckoning, not only once a beat gives up.
 */

const LEASE_MS = 300;

function grantOf(runId: string, leaseMs = LEASE_MS): LeaseGrant {
  return {
    runId,
    sessionId: 'ses_lapse',
    claim: 1,
    maxClaims: 2,
    jobSpec: {},
    repo: '/srv/repos/lapse',
    baseRef: null,
    baseCommit: null,
    leaseExpiresAt: new Date(Date.now() + leaseMs).toISOString(),
    fencingToken: 1,
    leaseMs,
    serverPolicy: null,
    budgets: {},
  };
}

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (_obj, msg) => {
      if (msg !== undefined) lines.push(msg);
    },
    error: () => {},
    child: () => logger,
  };
  return logger;
}

describe('a worker whose heartbeats hang', () => {
  it('stops the run at its lease deadline without waiting for a beat to fail', async () => {
    let claims = 0;
    let beats = 0;
    let answerRunRead: (error: Error) => void = () => undefined;
    const link: ControlPlaneLink = {
      url: 'http://control-plane.test',
      claimRun: (_waitSec, signal) => {
        claims += 1;
        if (claims === 1) return Promise.resolve(grantOf('run_lapse'));
        return new Promise((resolve) => {
          if (signal.aborted) resolve(null);
          signal.addEventListener('abort', () => resolve(null), { once: true });
        });
      },
      // Accepted and never answered.
      workerHeartbeat: () => {
        beats += 1;
        return new Promise(() => undefined);
      },
      // The run's first read waits until the test lets it fail for good.
      leaseOp: () =>
        new Promise((_resolve, reject) => {
          answerRunRead = reject;
        }),
      basePack: () => Promise.reject(new Error('not used')),
      putRunArtifact: () => Promise.reject(new Error('not used')),
      isTransient: () => false,
    };
    const warnings: string[] = [];
    const agent = new RemoteWorkerAgent(
      {
        link,
        // The run never gets past its first read, so nothing executes.
        execution: {} as WorkerExecutionDeps,
        workerId: 'wrk_lapse',
        clock: systemClock,
        log: recordingLogger(warnings),
        sleep: async () => undefined,
      },
      {
        concurrency: 1,
        claimWaitSec: 25,
        cacheDir: '/nonexistent',
        cacheMaxIdleMs: 3_600_000,
        leftRunMaxAgeMs: 3_600_000,
        backoff: { firstMs: 1, maxMs: 1 },
      },
    );
    const running = agent.run();
    await vi.waitFor(() => expect(beats).toBeGreaterThan(0));
    expect(warnings).not.toContain(
      'lease lapsed while the control plane was unreachable: stopping, reporting nothing',
    );
    await vi.waitFor(
      () =>
        expect(warnings).toContain(
          'lease lapsed while the control plane was unreachable: stopping, reporting nothing',
        ),
      { timeout: 30_000 },
    );
    // Only the first beat was sent: the lapse was not noticed through a failed one.
    expect(beats).toBe(1);
    answerRunRead(new AasError('LEASE_FENCED', 'the lease lapsed'));
    await vi.waitFor(() => expect(agent.status().runs).toEqual([]));
    // Its drain beat would hang as well: the agent is left draining, holding nothing.
    agent.drain();
    expect(agent.status()).toMatchObject({ state: 'draining', runs: [] });
    void running;
  });
});

describe('a claim that arrives while a heartbeat is on its way', () => {
  it('is renewed by one more beat right after that one, not left to the next period', async () => {
    let claims = 0;
    let releaseSecondClaim: () => void = () => undefined;
    const secondClaim = new Promise<void>((resolve) => {
      releaseSecondClaim = resolve;
    });
    const beats: string[][] = [];
    const timeouts: (number | undefined)[] = [];
    let answerFirstBeat: () => void = () => undefined;
    const link: ControlPlaneLink = {
      url: 'http://control-plane.test',
      claimRun: async (_waitSec, signal) => {
        claims += 1;
        if (claims === 1) return grantOf('run_a', 30_000);
        if (claims === 2) {
          await secondClaim;
          return grantOf('run_b', 30_000);
        }
        return new Promise((resolve) => {
          if (signal.aborted) resolve(null);
          signal.addEventListener('abort', () => resolve(null), { once: true });
        });
      },
      workerHeartbeat: (leases, state) => {
        beats.push(leases.map((lease) => lease.runId));
        timeouts.push(state.timeoutMs);
        const runs = leases.map((lease) => ({ runId: lease.runId, order: 'ok' as const }));
        if (beats.length > 1) return Promise.resolve({ runs, drain: false });
        return new Promise((resolve) => {
          answerFirstBeat = () => resolve({ runs, drain: false });
        });
      },
      // Both runs stay at their first read: held, doing nothing.
      leaseOp: () => new Promise(() => undefined),
      basePack: () => Promise.reject(new Error('not used')),
      putRunArtifact: () => Promise.reject(new Error('not used')),
      isTransient: () => false,
    };
    const agent = new RemoteWorkerAgent(
      {
        link,
        execution: {} as WorkerExecutionDeps,
        workerId: 'wrk_join',
        clock: systemClock,
        log: recordingLogger([]),
        sleep: async () => undefined,
      },
      {
        concurrency: 2,
        claimWaitSec: 25,
        cacheDir: '/nonexistent',
        cacheMaxIdleMs: 3_600_000,
        leftRunMaxAgeMs: 3_600_000,
        backoff: { firstMs: 1, maxMs: 1 },
      },
    );
    void agent.run();
    await vi.waitFor(() => expect(beats).toEqual([['run_a']]));
    releaseSecondClaim();
    await vi.waitFor(() => expect(agent.status().runs).toHaveLength(2));
    // Past the periodic timer armed while nothing was held (every 500 ms then): it fires into
    // the beat on its way and is armed again only once that is answered, 5 s later (a third of
    // the 30 s lease, at most 5 s). So a second beat within the next 2 s is the joined one.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(beats).toHaveLength(1);
    answerFirstBeat();
    await vi.waitFor(() => expect(beats).toEqual([['run_a'], ['run_a', 'run_b']]), {
      timeout: 2_000,
    });
    // Each beat gives up within a third of the leases it renews, before the next one is due.
    expect(timeouts).toEqual([10_000, 10_000]);
    agent.stopNow();
  });
});
