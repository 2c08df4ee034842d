import { afterAll, describe, expect, it } from 'vitest';
import { executeRun, parseJobSpec, submitRun } from '../../src/runner/index.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { openTestRuntime } from '../helpers/test-runtime.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

/**
 * AAS_REPO_PATHS holds when a run starts, not only at submission: a run queued (or a schedule's
 * job set) before the rule was narrowed does not read a repository outside it.
 */
describe('the repository path rule when a run starts', () => {
  it('ends a run whose local repository lies outside AAS_REPO_PATHS, reading nothing of it', async () => {
    const home = makeTempDir('aas-home-');
    const allowed = makeTempDir('aas-allowed-');
    const repo = createTempRepo({ 'secret.txt': 'hunter2\n' });
    cleanup.push(home, allowed, repo);
    const runtime = await openTestRuntime(home, { env: { AAS_REPO_PATHS: allowed } });
    try {
      const deps = runtime.runnerDeps();
      // Queued without the submission check, as a run queued before the rule was set.
      const job = parseJobSpec({
        task: 'x',
        repo,
        agent: 'command',
        agentInput: { command: 'cat secret.txt' },
      });
      const { runId } = await submitRun(deps, job, 'user:test', { reserveFor: deps });
      const outcome = await executeRun(deps, runId).then(
        (value) => value,
        (error: unknown) => error,
      );
      const run = await runtime.store.getRun(runId);
      expect(run?.status, String(outcome)).not.toBe('ready_for_promotion');
      expect(run?.reasonCode).toBe('JOB_INVALID');
      expect(run?.reasonDetail).toContain('AAS_REPO_PATHS');
      expect(run?.baseCommit).toBeNull();
      expect(await runtime.store.listAttempts(runId)).toEqual([]);
    } finally {
      await runtime.close();
    }
  });
});
