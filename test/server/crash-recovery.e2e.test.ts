import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/sessions/index.js';
import type { SessionRecord, StoredEvent } from '../../src/store/index.js';
import {
  newBootstrapToken,
  type ServerProcess,
  startServerProcess,
  waitFor,
} from '../helpers/server-process.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { POSTGRES_REQUIRED, type StoreFixture, storeDialects } from '../store/dialects.js';

/**
 * `kill -9` of a real `aas start` while runs are executing, then a restart on the same data:
 * nothing committed is lost, no run is executed by two holders at once, every run ends (here:
 * succeeds on its next claim), interrupted attempts are recorded as such and their workspaces
 * are gone.
 */
const dialects = await storeDialects();
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

const TERMINAL = ['ready_for_promotion', 'human_review', 'blocked', 'failed', 'cancelled'];

interface RunView {
  readonly id: string;
  readonly sessionId: string;
  readonly status: string;
  readonly reasonCode: string | null;
  readonly claimCount: number;
}

async function getRun(server: ServerProcess, runId: string): Promise<RunView> {
  const response = await server.api(`/api/v1/runs/${runId}`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { run?: RunView } & RunView;
  return body.run ?? body;
}

async function allEvents(server: ServerProcess, sessionId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const response = await server.api(`/api/v1/sessions/${sessionId}/events?after=${after}`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { items: StoredEvent[]; nextAfter: number | null };
    events.push(...page.items);
    if (page.nextAfter === null || page.items.length === 0) return events;
    after = page.nextAfter;
  }
}

async function sessionOf(server: ServerProcess, sessionId: string): Promise<SessionRecord> {
  const response = await server.api(`/api/v1/sessions/${sessionId}`);
  const body = (await response.json()) as { session?: SessionRecord } & SessionRecord;
  return body.session ?? body;
}

for (const dialect of dialects) {
  const skip = !dialect.available && !POSTGRES_REQUIRED;
  describe.skipIf(skip)(`crash recovery of aas start (${dialect.name})`, () => {
    it('recovers every run after SIGKILL: requeued, re-executed once at a time, nothing lost', async () => {
      const home = makeTempDir('aas-crash-');
      const repo = createTempRepo({ 'README.md': 'hello\n' });
      cleanup.push(
        () => removeDir(home),
        () => removeDir(repo),
      );
      let fixture: StoreFixture | undefined;
      const env: NodeJS.ProcessEnv = { AAS_RUN_LEASE_MS: '2000', AAS_WORKERS: '2' };
      if (dialect.name === 'postgres') {
        fixture = await dialect.open();
        const opened = fixture;
        cleanup.push(() => opened.cleanup());
        env.AAS_DATABASE_URL = fixture.databaseUrl;
      }
      const token = newBootstrapToken();
      const first = await startServerProcess({ home, token, env });
      cleanup.push(() => {
        first.child.kill('SIGKILL');
      });

      // Each agent marks its start, waits long enough to be killed mid-run, then edits a file.
      const submitted: { sessionId: string; runId: string }[] = [];
      for (let i = 0; i < 4; i += 1) {
        const response = await first.api('/api/v1/sessions', {
          method: 'POST',
          body: JSON.stringify({
            task: `change file ${i}`,
            repo,
            agent: 'command',
            agentInput: { command: `sleep 2; echo run ${i} > file-${i}.txt` },
            interruptRetries: 2,
          }),
        });
        expect(response.status).toBe(201);
        submitted.push((await response.json()) as { sessionId: string; runId: string });
      }
      // Kill while at least two agents are mid-run (started, not finished).
      const runningBeforeKill = await waitFor('two agents mid-run', async () => {
        const midRun: string[] = [];
        for (const s of submitted) {
          const types = (await allEvents(first, s.sessionId)).map((event) => event.type);
          if (types.includes('agent.started') && !types.includes('agent.finished')) {
            midRun.push(s.runId);
          }
        }
        return midRun.length >= 2 ? midRun : undefined;
      });
      const committedBeforeKill = new Map<string, StoredEvent[]>();
      for (const s of submitted)
        committedBeforeKill.set(s.sessionId, await allEvents(first, s.sessionId));

      first.child.kill('SIGKILL');
      expect(await first.exited).toBeNull();

      const second = await startServerProcess({ home, token, env });
      cleanup.push(async () => {
        second.child.kill('SIGTERM');
        await second.exited;
      });
      const finished = await waitFor('every run to finish', async () => {
        const runs = await Promise.all(submitted.map((s) => getRun(second, s.runId)));
        return runs.every((run) => TERMINAL.includes(run.status)) ? runs : undefined;
      });

      for (const run of finished) {
        expect(run, JSON.stringify(run)).toMatchObject({
          status: 'ready_for_promotion',
          reasonCode: 'GATES_PASSED',
        });
      }
      for (const s of submitted) {
        const events = await allEvents(second, s.sessionId);
        // Nothing committed before the kill was lost or rewritten.
        const before = committedBeforeKill.get(s.sessionId) ?? [];
        expect(events.slice(0, before.length)).toEqual(before);
        expect(verifyChain(await sessionOf(second, s.sessionId), events).ok).toBe(true);

        // One holder at a time: claims carry increasing tokens, and every claim after the
        // first follows the previous holder's interruption and the requeue.
        const claims = events.filter((event) => event.type === 'run.started');
        const tokens = claims.map((event) => (event.data as { fencingToken: number }).fencingToken);
        expect(tokens).toEqual(tokens.map((_, index) => index + 1));
        for (let k = 1; k < claims.length; k += 1) {
          const between = events
            .filter(
              (event) => event.seq > (claims[k - 1]?.seq ?? 0) && event.seq < (claims[k]?.seq ?? 0),
            )
            .map((event) => event.type);
          expect(between).toContain('run.interrupted');
          expect(between).toContain('run.requeued');
        }
        const completed = events.filter((event) => event.type === 'run.completed');
        expect(completed).toHaveLength(1);
        if (runningBeforeKill.includes(s.runId)) {
          expect(claims.length).toBeGreaterThanOrEqual(2);
          const interruptedAttempts = events.filter(
            (event) =>
              event.type === 'run.attempt.finished' &&
              (event.data as { code: string }).code === 'INTERRUPTED',
          );
          expect(interruptedAttempts.length).toBeGreaterThanOrEqual(1);
        }
      }

      // Workspaces of interrupted attempts were collected; logs stay; nothing stays mounted.
      for (const s of submitted) {
        const runDir = join(home, 'runs', s.runId);
        if (!existsSync(runDir)) continue;
        for (const attempt of readdirSync(runDir).filter((name) => name.startsWith('attempt-'))) {
          expect(existsSync(join(runDir, attempt, 'workspace'))).toBe(false);
        }
      }
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
      expect(mounts).not.toContain(home);
    });
  });
}
