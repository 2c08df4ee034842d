import { afterAll, describe, expect, it } from 'vitest';
import { isAasError, ManualClock } from '../../src/kernel/index.js';
import { executeRun, parseJobSpec, submitRun } from '../../src/runner/index.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { openTestRuntime } from '../helpers/test-runtime.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

describe('a run reserved for immediate execution', () => {
  it('ends INTERRUPTED when its process dies before claiming it; unreserved queued runs wait', async () => {
    const home = makeTempDir('aas-home-');
    const repo = createTempRepo({ 'src/a.txt': 'a\n' });
    cleanup.push(home, repo);
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    const runtime = await openTestRuntime(home, { clock });
    try {
      const deps = runtime.runnerDeps();
      const job = parseJobSpec({
        task: 'x',
        repo,
        agent: 'command',
        agentInput: { command: 'true' },
      });
      const reserved = await submitRun(deps, job, 'user:test', { reserveFor: deps });
      const waiting = await submitRun(deps, job, 'user:test');

      // Another runner may not claim a run reserved for this one.
      const other = { ...deps, owner: 'runner:elsewhere:1' };
      const refused = await executeRun(other, reserved.runId).then(
        () => null,
        (error: unknown) => error,
      );
      expect(isAasError(refused) && refused.code).toBe('CONFLICT');

      clock.advance(deps.runLeaseMs - 1);
      expect((await runtime.queue.sweep('system:test')).ended).toEqual([]);
      clock.advance(2);
      expect(await runtime.queue.sweep('system:test')).toEqual({
        ended: [reserved.runId],
        requeued: [],
        prunedLeaseWrites: 0,
      });

      const run = await runtime.store.getRun(reserved.runId);
      expect(run).toMatchObject({ status: 'failed', reasonCode: 'INTERRUPTED', leaseOwner: null });
      expect(run?.reasonDetail).toContain('stopped before starting it');
      expect((await runtime.store.getRun(waiting.runId))?.status).toBe('queued');
    } finally {
      await runtime.close();
    }
  });
});
