import { afterAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/app/index.js';
import { AasError } from '../../src/kernel/index.js';
import { executeRun, parseJobSpec, submitRun } from '../../src/runner/index.js';
import { verifyChain } from '../../src/sessions/index.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { openTestRuntime } from '../helpers/test-runtime.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

/** A runtime on a home of its own, and a repository to run in. */
async function runtimeWithRepo(): Promise<{ runtime: Runtime; repo: string }> {
  const home = makeTempDir('aas-home-');
  const repo = createTempRepo({ 'src/a.txt': 'a\n' });
  cleanup.push(home, repo);
  const runtime = await openTestRuntime(home);
  return { runtime, repo };
}

/** Resolves once an agent of `runtime` has started. */
function agentStartedOn(runtime: Runtime): Promise<void> {
  return new Promise<void>((resolve) => {
    const off = runtime.bus.on('agent.started', () => {
      off();
      resolve();
    });
  });
}

describe('a runner that lost its lease', () => {
  it('writes nothing after recovery ended its run, and reports what the store says', async () => {
    const { runtime, repo } = await runtimeWithRepo();
    try {
      const deps = runtime.runnerDeps();
      const job = parseJobSpec({
        task: 'x',
        repo,
        agent: 'command',
        agentInput: { command: 'sleep 2; echo b > src/b.txt' },
      });
      const { sessionId, runId } = await submitRun(deps, job, 'user:test');
      const agentStarted = agentStartedOn(runtime);
      const running = executeRun(deps, runId);
      await agentStarted;

      // What recovery does when it believes the owner died: end the run, clear the lease.
      const ended = await runtime.store.updateRun({
        runId,
        expect: { status: ['running'] },
        changes: {
          status: 'failed',
          reasonCode: 'INTERRUPTED',
          reasonDetail: 'lease expired',
          leaseOwner: null,
          leaseExpiresAt: null,
        },
        events: [
          {
            type: 'run.interrupted',
            at: runtime.clock.nowIso(),
            actor: 'system:recovery',
            data: { runId, previousOwner: deps.owner, detail: 'lease expired' },
          },
        ],
      });
      const lastSeqAtRecovery = ended.events.at(-1)?.seq;

      const outcome = await running;
      expect(outcome).toMatchObject({
        status: 'failed',
        reasonCode: 'INTERRUPTED',
        patch: null,
        summaryPath: '',
      });
      expect(outcome.detail).toContain('lost the run');

      // Nothing of the fenced holder's work was written; only the record that its report was
      // refused follows recovery's events.
      const session = await runtime.store.getSession(sessionId);
      expect(session?.lastSeq).toBe((lastSeqAtRecovery ?? 0) + 1);
      expect(session?.status).toBe('failed');
      const events = await runtime.store.readEvents(sessionId);
      expect(events.at(-2)?.type).toBe('run.interrupted');
      expect(events.at(-1)).toMatchObject({
        type: 'lease.fenced',
        data: { currentOwner: null, rejected: expect.stringContaining('lost its lease') },
      });
      if (!session) throw new Error('session missing');
      expect(verifyChain(session, events).ok).toBe(true);
    } finally {
      await runtime.close();
    }
  });

  it("whose reads are fenced too (as a remote worker's are) still ends with a fenced outcome", async () => {
    const { runtime, repo } = await runtimeWithRepo();
    try {
      const local = runtime.runnerDeps();
      let fenced = false;
      // Once the lease is gone, every read and write of this holder is refused.
      const store = new Proxy(local.store, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) =>
            fenced && (key === 'getRun' || key === 'appendEvents')
              ? Promise.reject(new AasError('LEASE_FENCED', 'this worker no longer holds the run'))
              : value.apply(target, args);
        },
      });
      const deps = { ...local, store };
      const job = parseJobSpec({
        task: 'x',
        repo,
        agent: 'command',
        agentInput: { command: 'sleep 2; echo b > src/b.txt' },
      });
      const { runId } = await submitRun(deps, job, 'user:test');
      const agentStarted = agentStartedOn(runtime);
      const running = executeRun(deps, runId);
      await agentStarted;
      await runtime.store.updateRun({
        runId,
        expect: { status: ['running'] },
        changes: { status: 'queued', leaseOwner: null, leaseExpiresAt: null },
        events: [],
      });
      fenced = true;
      const outcome = await running;
      expect(outcome).toMatchObject({ runId, reasonCode: 'LEASE_FENCED', patch: null });
      expect(outcome.detail).toContain('lost the run');
    } finally {
      await runtime.close();
    }
  });

  it('acknowledges its claim with a renewal before any work, however short the run', async () => {
    const { runtime, repo } = await runtimeWithRepo();
    try {
      const deps = runtime.runnerDeps();
      const job = parseJobSpec({
        task: 'x',
        repo,
        agent: 'command',
        agentInput: { command: 'echo b > src/b.txt' },
      });
      const { runId } = await submitRun(deps, job, 'user:test');
      // Renewed before the agent starts: a holder dying from then on spends its claim.
      const renewedAtAgentStart = new Promise<number | null | undefined>((resolve) => {
        const off = runtime.bus.on('agent.started', () => {
          off();
          void runtime.store.getRun(runId).then((run) => resolve(run?.renewedFencingToken));
        });
      });
      await executeRun(deps, runId);
      const run = await runtime.store.getRun(runId);
      expect(run?.fencingToken).toBe(1);
      expect(await renewedAtAgentStart).toBe(1);
      expect(run?.renewedFencingToken).toBe(1);
    } finally {
      await runtime.close();
    }
  });
});
