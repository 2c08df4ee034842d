import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { AasError, type Clock, silentLogger, systemClock } from '../../src/kernel/index.js';
import type { RunQueue } from '../../src/queue/index.js';
import { EventBus } from '../../src/sessions/index.js';
import type { RemoteWorkerRecord, Store } from '../../src/store/index.js';
import {
  type ControlPlaneLink,
  RemoteWorkerAgent,
  RemoteWorkers,
  SELF_DRAIN_CURRENT_MS,
  type WorkerExecutionDeps,
} from '../../src/workers/index.js';
import { openBaseCache } from '../../src/workspaces/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * A worker's own drain (SIGTERM): the worker program says so on a heartbeat even when it holds
 * nothing, and the control plane remembers it for display only, for a bounded time.
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

  it('refused by the control plane, stops without a heartbeat', async () => {
    const link = fakeLink({ refuseClaims: true });
    await expect(agentOn(link).run()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(link.beats).toEqual([]);
  });
});

class ManualClock implements Clock {
  ms = Date.parse('2026-03-01T00:00:00.000Z');
  nowMs(): number {
    return this.ms;
  }
  now(): Date {
    return new Date(this.ms);
  }
  nowIso(): string {
    return this.now().toISOString();
  }
}

describe('the control plane hearing a worker drain itself', () => {
  const record: RemoteWorkerRecord = {
    id: 'wrk_self',
    name: 'self',
    labels: [],
    capabilities: { agents: [], sandbox: [] },
    enrolledAt: '2026-03-01T00:00:00.000Z',
    enrolledBy: 'test',
    revokedAt: null,
    lastSeenAt: null,
    draining: false,
  };
  const writes: string[] = [];
  // Only what a heartbeat without leases and a claim that finds nothing touch.
  const store = {
    recordWorkerSeen: async () => record,
    getWorker: async () => record,
    setWorkerDraining: async () => {
      writes.push('setWorkerDraining');
      return record;
    },
  } as unknown as Store;
  const queue = { claim: async () => null } as unknown as RunQueue;

  it('remembers it for display only, for a bounded time, and forgets it on a claim', async () => {
    const clock = new ManualClock();
    const workers = new RemoteWorkers(
      { queue, store, clock, bus: new EventBus(), log: silentLogger },
      { pollMs: 1_000, leaseMs: 30_000, serverPolicy: null, budgets: {} },
    );
    expect(await workers.heartbeat(record, [], { draining: true })).toEqual({
      runs: [],
      drain: false,
    });
    expect(workers.selfDraining(record.id)).toBe(true);
    clock.ms += SELF_DRAIN_CURRENT_MS - 1;
    expect(workers.selfDraining(record.id)).toBe(true);
    clock.ms += 1;
    expect(workers.selfDraining(record.id)).toBe(false);

    await workers.heartbeat(record, [], { draining: true });
    await workers.heartbeat(record, []);
    expect(workers.selfDraining(record.id)).toBe(false);

    await workers.heartbeat(record, [], { draining: true });
    expect(await workers.claim(record, 0)).toBeNull();
    expect(workers.selfDraining(record.id)).toBe(false);
    // Never written: the store's flag is the administrator's alone.
    expect(writes).toEqual([]);
  });
});
