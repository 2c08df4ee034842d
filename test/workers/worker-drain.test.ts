import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { AasError, silentLogger, systemClock } from '../../src/kernel/index.js';
import {
  type ControlPlaneLink,
  RemoteWorkerAgent,
  type WorkerExecutionDeps,
} from '../../src/workers/index.js';
import { openBaseCache } from '../../src/workspaces/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * A worker's own drain (SIGTERM): the worker program says so on a heartbeat even when it holds
 * nothing (what the control plane makes of it: test/api/worker-self-drain.test.ts). Also: the
 * program's eviction of its idle caches.
 */

type Beat = { leases: readonly { runId: string; fencingToken: number }[]; draining: boolean };

/** A control plane with no work: claims wait until given up; heartbeats are recorded. */
function fakeLink(options: { refuseClaims?: boolean } = {}): ControlPlaneLink & { beats: Beat[] } {
  const beats: Beat[] = [];
  const unused = async (): Promise<never> => {
    throw new Error('not used by these tests');
  };
  return {
    url: 'http://control-plane.test',
    beats,
    claimRun: (_waitSec, signal) => {
      if (options.refuseClaims === true) {
        return Promise.reject(new AasError('UNAUTHENTICATED', 'revoked'));
      }
      return new Promise((resolve) => {
        if (signal.aborted) resolve(null);
        signal.addEventListener('abort', () => resolve(null), { once: true });
      });
    },
    workerHeartbeat: async (leases, state) => {
      beats.push({ leases, draining: state.draining });
      return { runs: leases.map((lease) => ({ runId: lease.runId, order: 'ok' })), drain: false };
    },
    leaseOp: unused,
    basePack: unused,
    putRunArtifact: unused,
    isTransient: () => false,
  };
}

function agentOn(link: ControlPlaneLink, cacheDir = '/nonexistent'): RemoteWorkerAgent {
  return new RemoteWorkerAgent(
    {
      link,
      // No run is ever claimed here, so nothing executes.
      execution: {} as WorkerExecutionDeps,
      workerId: 'wrk_test',
      clock: systemClock,
      log: silentLogger,
      sleep: async () => undefined,
    },
    {
      concurrency: 2,
      claimWaitSec: 25,
      cacheDir,
      cacheMaxIdleMs: 3_600_000,
      leftRunMaxAgeMs: 3_600_000,
      backoff: { firstMs: 1, maxMs: 1 },
    },
  );
}

describe('the worker program draining itself', () => {
  it('holding nothing, says it is draining once before it stops', async () => {
    const link = fakeLink();
    const agent = agentOn(link);
    const running = agent.run();
    // Let both claim loops start waiting.
    await new Promise((resolve) => setImmediate(resolve));
    agent.drain();
    await running;
    expect(link.beats).toEqual([{ leases: [], draining: true }]);
    expect(agent.status().state).toBe('stopped');
  });

  it('deletes cache repositories idle for longer than its limit when it starts', async () => {
    const cacheDir = makeTempDir('aas-worker-cache-');
    try {
      const idle = await openBaseCache(cacheDir, 'a'.repeat(32));
      const recent = await openBaseCache(cacheDir, 'b'.repeat(64));
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      utimesSync(join(idle, '.git', 'aas-used'), twoHoursAgo, twoHoursAgo);
      const agent = agentOn(fakeLink(), cacheDir);
      const running = agent.run();
      await vi.waitFor(() => expect(existsSync(idle)).toBe(false));
      expect(existsSync(join(recent, '.git'))).toBe(true);
      agent.drain();
      await running;
    } finally {
      removeDir(cacheDir);
    }
  });

  it('pauses after an empty answer that came long before its wait was up, instead of asking again at once', async () => {
    const link = fakeLink();
    let claims = 0;
    const slept: number[] = [];
    const quick: ControlPlaneLink = {
      ...link,
      // Two answers at once, as from a server shutting down, then the usual long wait.
      claimRun: (waitSec, signal) => {
        claims += 1;
        return claims <= 2 ? Promise.resolve(null) : link.claimRun(waitSec, signal);
      },
    };
    const agent = new RemoteWorkerAgent(
      {
        link: quick,
        execution: {} as WorkerExecutionDeps,
        workerId: 'wrk_test',
        clock: systemClock,
        log: silentLogger,
        sleep: async (ms) => {
          slept.push(ms);
        },
        random: () => 0,
      },
      {
        concurrency: 1,
        claimWaitSec: 25,
        cacheDir: '/nonexistent',
        cacheMaxIdleMs: 3_600_000,
        leftRunMaxAgeMs: 3_600_000,
        backoff: { firstMs: 400, maxMs: 10_000 },
      },
    );
    const running = agent.run();
    await vi.waitFor(() => expect(claims).toBe(3));
    agent.drain();
    await running;
    // One pause after each early answer, the first step's lower bound (jitter fixed at 0).
    expect(slept).toEqual([200, 200]);
  });

  it('refused by the control plane, stops without a heartbeat', async () => {
    const link = fakeLink({ refuseClaims: true });
    await expect(agentOn(link).run()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(link.beats).toEqual([]);
  });
});
